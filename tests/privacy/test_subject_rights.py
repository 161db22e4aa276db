"""Export of everything held about a participant, and the erasure workflow."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from capture.models import Observation
from consent.models import FaceTemplate
from consent.template_crypto import encrypt_embedding
from privacy.models import ErasureRequest
from privacy.subject_rights import ErasureError, carry_out_erasure, open_erasure_request
from tests.conftest import login
from tests.factories import grant_consent
from tests.time_series import add_series
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Participant, StaffMember


@pytest.fixture
def recorded_student(student: Participant, guardian: Guardian, notice: Any) -> Participant:
    grant_consent(student, guardian)
    add_series(student)
    FaceTemplate.objects.create(
        participant=student, ciphertext=encrypt_embedding(np.ones(128)), embedder="t"
    )
    return student


def test_json_export_holds_everything_and_withholds_secrets(
    admin: StaffMember, recorded_student: Participant
) -> None:
    # when the admin exports the student's data
    response = login(admin).get(reverse("privacy:export", args=[recorded_student.pk]))
    data = json.loads(response.content)
    # then every section is there, with the consent history and series, and no template bytes
    assert data["participant"]["pseudonym"] == recorded_student.pseudonym
    assert len(data["consent.consentrecord"]) == 1
    assert len(data["capture.observation"]) == 1 and len(data["capture.dailyrollup"]) == 1
    assert len(data["capture.minuteaggregate"]) == 1 and len(data["capture.sessiontotal"]) == 1
    assert data["consent.facetemplate"][0]["ciphertext"] == "(withheld)"
    assert data["wellbeing.guardian"][0]["name"] == "Sam Parent"
    assert AuditEvent.objects.filter(action="participant.export").exists()


def test_csv_export_is_a_zip_of_csv_files(
    admin: StaffMember, recorded_student: Participant
) -> None:
    response = login(admin).get(
        reverse("privacy:export", args=[recorded_student.pk]) + "?format=csv"
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert {"participant.csv", "consent.consentrecord.csv", "capture.observation.csv"} <= set(
        archive.namelist()
    )
    assert "p_sad" in archive.read("capture.observation.csv").decode().splitlines()[0]


def test_export_is_refused_to_counselors_and_other_schools(
    counselor: StaffMember, other_admin: StaffMember, recorded_student: Participant
) -> None:
    url = reverse("privacy:export", args=[recorded_student.pk])
    assert login(counselor).get(url).status_code == 403
    assert login(other_admin).get(url).status_code == 404


def test_erasure_deletes_everything_but_keeps_the_pseudonymous_trail(
    admin: StaffMember, recorded_student: Participant
) -> None:
    # given an erasure request
    ctx = AuditContext.system(admin.organization)
    request = open_erasure_request(ctx, recorded_student, "mother, by letter")
    pseudonym = recorded_student.pseudonym
    assert request.days_left >= 29
    # when it is carried out
    deleted = carry_out_erasure(ctx, request, handled_by=admin)
    # then the student and their data are gone; the audit trail still names the pseudonym
    assert not Participant.objects.filter(pseudonym=pseudonym).exists()
    assert not Observation.objects.exists() and not FaceTemplate.objects.exists()
    assert deleted["wellbeing.Participant"] == 1
    assert AuditEvent.objects.filter(action="erasure.complete", detail__pseudonym=pseudonym)
    request.refresh_from_db()
    assert request.status == "completed" and request.participant is None
    with pytest.raises(ErasureError, match="already been handled"):
        carry_out_erasure(ctx, request)


def test_erasure_page_tracks_deadlines(admin: StaffMember, student: Participant) -> None:
    # given an overdue request
    request = open_erasure_request(AuditContext.system(admin.organization), student, "student")
    ErasureRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() - dt.timedelta(days=3)
    )
    # then the page flags it as overdue
    page = login(admin).get(reverse("privacy:erasure_requests")).content.decode()
    assert "overdue by" in page and student.pseudonym in page
    assert ErasureRequest.objects.overdue().count() == 1


def test_erasure_through_the_page(admin: StaffMember, recorded_student: Participant) -> None:
    client = login(admin)
    client.post(
        reverse("privacy:erasure_requests"),
        {"participant": recorded_student.pk, "requested_by": "father"},
    )
    request = ErasureRequest.objects.get()
    client.post(reverse("privacy:erasure_decide", args=[request.pk]), {"decision": "erase"})
    assert not Participant.objects.filter(pk=recorded_student.pk).exists()


@pytest.mark.parametrize("body", [{}, {"decision": "maybe"}])
def test_erasure_needs_an_explicit_choice(
    admin: StaffMember, recorded_student: Participant, body: dict[str, str]
) -> None:
    # given an open request
    request = open_erasure_request(AuditContext.system(admin.organization), recorded_student, "x")
    # when the decide endpoint is posted without choosing erase or reject
    login(admin).post(reverse("privacy:erasure_decide", args=[request.pk]), body)
    # then nothing is erased and the request stays open
    assert Participant.objects.filter(pk=recorded_student.pk).exists()
    request.refresh_from_db()
    assert request.status == "open"
