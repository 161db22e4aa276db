"""Admin pages for participants, consent, enrollment and devices: permissions and effects."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from capture.devices import authenticate_device
from capture.models import CaptureDevice
from consent.models import ConsentRecord
from tests.conftest import login
from wellbeing.models import AuditEvent, Classroom, Guardian, Participant, StaffMember

PAGES = ["consent:participants", "consent:participant_create", "devices"]


@pytest.mark.parametrize("page", PAGES)
def test_only_admins_open_admin_pages(
    page: str, admin: StaffMember, counselor: StaffMember, teacher: StaffMember
) -> None:
    url = reverse(page)
    assert login(admin).get(url).status_code == 200
    assert login(counselor).get(url).status_code == 403
    assert login(teacher).get(url).status_code == 403


def test_anonymous_users_are_sent_to_login(db: Any) -> None:
    from django.test import Client

    response = Client().get(reverse("consent:participants"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_other_schools_participant_is_not_found(
    admin: StaffMember, other_student: Participant
) -> None:
    url = reverse("consent:participant", args=[other_student.pk])
    assert login(admin).get(url).status_code == 404


def test_viewing_a_participant_is_audited(admin: StaffMember, student: Participant) -> None:
    login(admin).get(reverse("consent:participant", args=[student.pk]))
    event = AuditEvent.objects.get(action="participant.view")
    assert event.participant_pseudonym == student.pseudonym
    assert event.actor == admin.user and event.ip_address == "127.0.0.1"


def test_record_and_withdraw_consent_through_the_pages(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    client = login(admin)
    # when the admin records a guardian grant
    client.post(
        reverse("consent:consent_record", args=[student.pk]),
        {
            "scopes": ["emotion_analysis", "face_template"],
            "decision": "grant",
            "given_by": "guardian",
            "guardian": guardian.pk,
            "evidence_reference": "form-17",
            "evidence_date": "2026-09-01",
        },
    )
    record = ConsentRecord.objects.get(participant=student)
    assert record.recorded_by == admin and record.withdrawn_at is None
    page = client.get(reverse("consent:participant", args=[student.pk])).content.decode()
    assert "emotion_analysis: active" in page
    # when it is withdrawn, then it is no longer active
    client.post(reverse("consent:withdraw", args=[record.pk]), {"note": "phone call"})
    record.refresh_from_db()
    assert record.withdrawn_at is not None and record.withdrawal_note == "phone call"


def test_invalid_consent_form_records_nothing(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    response = login(admin).post(
        reverse("consent:consent_record", args=[student.pk]),
        {"scopes": ["not_a_scope"], "decision": "grant", "given_by": "guardian"},
        follow=True,
    )
    assert "Nothing recorded" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_enrollment_page_refuses_without_consent(admin: StaffMember, student: Participant) -> None:
    photo = SimpleUploadedFile("a.jpg", b"\xff\xd8\xff", content_type="image/jpeg")
    response = login(admin).post(
        reverse("consent:enroll", args=[student.pk]), {"photos": [photo]}, follow=True
    )
    assert "no active face_template consent" in response.content.decode()


def test_device_registration_shows_token_once_and_revocation(
    admin: StaffMember, classroom: Classroom
) -> None:
    client = login(admin)
    response = client.post(reverse("devices"), {"name": "Cam 1", "classroom": classroom.pk})
    device = CaptureDevice.objects.get()
    token = re.search(r"<code>(wbd_[\w-]{40,})</code>", response.content.decode())
    assert token is not None and authenticate_device(token.group(1)) == device
    assert token.group(1) not in client.get(reverse("devices")).content.decode()
    client.post(reverse("device_action", args=[device.pk, "revoke"]))
    device.refresh_from_db()
    assert device.revoked_at is not None


def test_print_form_shows_the_current_notice(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    page = login(admin).get(reverse("consent:print_form", args=[student.pk])).content.decode()
    assert notice.title in page and student.full_name in page and "Signature" in page


def test_enrollment_without_a_configured_key_explains_and_stores_nothing(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any, settings: Any
) -> None:
    from consent.models import FaceTemplate
    from tests.factories import grant_consent

    # given consent on record but a server without FACE_TEMPLATE_KEY
    grant_consent(student, guardian)
    settings.FACE_TEMPLATE_KEY = ""
    photo = SimpleUploadedFile("a.jpg", b"\xff\xd8\xff", content_type="image/jpeg")
    # when an admin enrolls a photo, then the page names the missing key (not a server error)
    response = login(admin).post(
        reverse("consent:enroll", args=[student.pk]), {"photos": [photo]}, follow=True
    )
    assert response.status_code == 200
    assert "FACE_TEMPLATE_KEY is not set" in response.content.decode()
    assert not FaceTemplate.objects.exists()
