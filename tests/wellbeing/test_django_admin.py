"""Django admin (the operator's tool) cannot forge audit events or tokenless devices."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from capture.devices import create_device
from capture.models import CaptureDevice
from tests.otp_codes import login_operator
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import AuditEvent, Classroom, Organization


@pytest.fixture
def operator(db: object) -> Client:
    return login_operator(User.objects.create_superuser("operator", "op@example.org", "pw-op-long"))


def test_audit_events_can_be_read_but_not_added_changed_or_deleted(
    operator: Client, school: Organization
) -> None:
    event = record_audit(AuditContext.system(school), "participant.view")
    base = "/admin/wellbeing/auditevent/"
    assert operator.get(base).status_code == 200
    assert operator.get(f"{base}{event.pk}/change/").status_code == 200  # view-only page
    assert operator.get(f"{base}add/").status_code == 403
    assert operator.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_devices_can_be_read_but_not_added_or_edited(
    operator: Client, school: Organization, classroom: Classroom
) -> None:
    device, _ = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    base = "/admin/capture/capturedevice/"
    assert operator.get(base).status_code == 200
    assert operator.get(f"{base}add/").status_code == 403
    # a POST to the change page cannot revoke it behind the audit trail's back
    response = operator.post(
        f"{base}{device.pk}/change/", {"name": "x", "revoked_at_0": "2026-01-01"}
    )
    assert response.status_code == 403
    device.refresh_from_db()
    assert device.name == "Camera" and device.revoked_at is None
    assert CaptureDevice.objects.count() == 1


def test_old_admin_links_of_devices_and_sessions_lead_to_their_new_pages(
    operator: Client, school: Organization, classroom: Classroom
) -> None:
    # given a device, whose admin pages were under /admin/wellbeing/ before issue 14
    device, _ = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    # when an operator follows an old link (a bookmark) to its page or to the session list
    page = operator.get(f"/admin/wellbeing/capturedevice/{device.pk}/change/")
    sessions = operator.get("/admin/wellbeing/classsession/?status=running")
    # then they are sent to the same pages under /admin/capture/, query string kept
    assert page.status_code == 302
    assert page["Location"] == f"/admin/capture/capturedevice/{device.pk}/change/"
    assert sessions["Location"] == "/admin/capture/classsession/?status=running"
    assert operator.get(page["Location"]).status_code == 200


def _classroom_form(classroom: Classroom, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "organization": classroom.organization_id,
        "name": classroom.name,
        "grade": classroom.grade,
        "teachers": [t.pk for t in classroom.teachers.all()],
        "detector": classroom.detector,
    }
    return {**form, **changes}


def test_operator_detector_change_is_validated_and_audited(
    operator: Client, classroom: Classroom
) -> None:
    page = f"/admin/wellbeing/classroom/{classroom.pk}/change/"
    # given the change page offers the detector with its plain-words choices
    assert "CNN (faces from ~16 px" in operator.get(page).content.decode()
    # when the operator sends a value that is not a choice
    refused = operator.post(page, _classroom_form(classroom, detector="cnn"))
    # then the form is shown again with an error and nothing is stored or audited
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    classroom.refresh_from_db()
    assert classroom.detector == "rfb" and not AuditEvent.objects.exists()
    # when the operator chooses the legacy detector
    saved = operator.post(page, _classroom_form(classroom, detector="hog"))
    # then it is stored and audited as a classroom change, naming the operator
    assert saved.status_code == 302
    classroom.refresh_from_db()
    assert classroom.detector == "hog"
    event = AuditEvent.objects.get(action="classroom.update", target_id=str(classroom.pk))
    assert event.detail == {"fields": ["detector"], "detector": {"before": "rfb", "after": "hog"}}
    assert event.organization == classroom.organization
    assert event.actor_label == "operator (operator)"
