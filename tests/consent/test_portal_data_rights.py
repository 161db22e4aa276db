"""Family portal data rights: the holder downloads everything held about their student (JSON
or CSV zip, audited as theirs) and asks for erasure once; nothing of another family or school."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.test import Client

from privacy.models import ErasureRequest, ErasureStatus
from tests.consent.conftest import portal_client
from tests.factories import grant_consent, make_participant
from wellbeing.models import AuditEvent, Guardian, Organization, Participant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]


def test_a_guardian_downloads_their_childs_data_and_nobody_elses(
    school: Organization, student: Participant, guardian: Guardian, notice: Any,
    other_student: Participant,
) -> None:  # fmt: skip
    grant_consent(student, guardian)
    stranger = make_participant(school, "Cy Stranger")
    client = portal_client("parent@example.org")
    # when the guardian downloads the export as JSON and as CSV files
    response = client.get(f"/portal/students/{student.pk}/export/")
    csv_zip = client.get(f"/portal/students/{student.pk}/export/?format=csv")
    # then both hold the student's record and consent history
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'participant-{student.pseudonym}.json"')
    data = json.loads(response.content)
    assert data["participant"]["pseudonym"] == student.pseudonym
    assert len(data["consent.consentrecord"]) == 1
    names = zipfile.ZipFile(io.BytesIO(csv_zip.content)).namelist()
    assert "participant.csv" in names and "consent.consentrecord.csv" in names
    # and each download is audited as the guardian's
    events = AuditEvent.objects.filter(action="participant.export")
    assert [e.actor_label for e in events] == ["guardian Sam Parent (family portal)"] * 2
    # and another family's or another school's student is not found
    for other in (stranger, other_student):
        assert client.get(f"/portal/students/{other.pk}/export/").status_code == 404
    assert events.count() == 2


def test_a_guardian_asks_for_erasure_once(student: Participant, guardian: Guardian) -> None:
    client = portal_client("parent@example.org")
    url = f"/portal/students/{student.pk}/erasure/"
    # when the guardian asks for erasure, twice
    first = client.post(url, {"note": "We are moving schools."}, follow=True)
    second = client.post(url, {}, follow=True)
    # then one open request is recorded for the school's admins to decide, with its deadline
    [request] = ErasureRequest.objects.all()
    assert request.status == ErasureStatus.OPEN and request.participant_id == student.pk
    assert request.requested_by == "guardian Sam Parent (family portal)"
    assert request.note == "We are moving schools."
    assert "erasure request is recorded" in first.content.decode()
    assert "already open" in second.content.decode()
    # and nothing is erased until an admin decides; the request is audited
    assert Participant.objects.filter(pk=student.pk).exists()
    assert AuditEvent.objects.filter(action="erasure.request").count() == 1


def test_pages_of_the_portal_need_a_portal_session(student: Participant) -> None:
    anonymous = Client()
    for url in ("/portal/home/", f"/portal/students/{student.pk}/",
                f"/portal/students/{student.pk}/export/"):  # fmt: skip
        assert anonymous.get(url)["Location"] == "/portal/"
    for action in ("consent", "erasure"):
        url = f"/portal/students/{student.pk}/{action}/"
        assert anonymous.post(url)["Location"] == "/portal/"
    assert not ErasureRequest.objects.exists()
