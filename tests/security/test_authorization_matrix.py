"""Every route of the product x every role x another school's objects.

Walks the URL resolver, so a new page or endpoint is covered without editing this test. For
each route, a URL is built from objects of ANOTHER school and requested (GET and POST) by each
role of this school and anonymously. Nothing may succeed, nothing may change, and anonymous
callers of pages are sent to sign in. What each role may do in its own school is tested per
app (tests/api, tests/dashboard, tests/alerts, tests/consent, tests/privacy).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, Rule
from capture.devices import create_device
from capture.models import ClassSession
from consent.models import ConsentRecord
from privacy.subject_rights import open_erasure_request
from tests.conftest import login
from tests.factories import grant_consent, make_guardian, make_notice, make_participant, make_staff
from tests.security.conftest import DEVICE_AUTH, concrete, routes
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization, Role


@pytest.fixture
def their_school(other_school: Organization) -> dict[str, Any]:
    """A fully populated second school: every kind of object a route can point at."""
    counselor = make_staff(other_school, Role.COUNSELOR)
    classroom = Classroom.objects.create(organization=other_school, name="Theirroom-Q")
    student = make_participant(other_school, "Zyxwv Theirstudent", classroom, counselor)
    notice = make_notice(other_school)
    record = grant_consent(student, make_guardian(student))
    ctx = AuditContext.system(other_school)
    device, _ = create_device(ctx, "Theirs-camera-Q", classroom=classroom)
    session = ClassSession.objects.create(classroom=classroom, status="running")
    rule = Rule.objects.filter(organization=other_school).first()
    assert rule is not None  # default rules are seeded per school
    today = timezone.localdate()
    alert = Alert.objects.create(
        organization=other_school, participant=student, rule=rule, rule_slug=rule.slug,
        severity="notify", evidence={}, window_start=today - dt.timedelta(days=4),
        window_end=today, raised_at=timezone.now(),
    )  # fmt: skip
    erasure = open_erasure_request(ctx, student, "their guardian")
    return {
        "participant": student.pk, "record": record.pk, "notice": notice.pk,
        "classroom": classroom.pk, "device": device.pk, "session": session.pk, "rule": rule.pk,
        "alert": alert.pk, "erasure": erasure.pk, "staff": counselor.pk,
    }  # fmt: skip


def snapshot() -> dict[str, int]:
    counts = {m._meta.label: m._default_manager.count() for m in apps.get_models()}
    counts.pop("axes.AccessLog", None)  # sign-in bookkeeping, not data
    counts.pop("sessions.Session", None)
    counts.pop("wellbeing.AuditEvent", None)  # a refused request may be logged
    counts.pop("otp_totp.TOTPDevice", None)  # the caller's own (unconfirmed) two-factor setup
    return counts


def states() -> list[Any]:
    return [
        list(Alert.objects.values_list("state", "acknowledged_at")),
        list(ConsentRecord.objects.values_list("withdrawn_at", flat=True)),
        list(apps.get_model("capture", "CaptureDevice").objects.values_list("revoked_at")),
        sorted(apps.get_model("auth", "User").objects.values_list("pk", "is_active")),
        sorted(apps.get_model("wellbeing", "StaffMember").objects.values_list("pk", "role")),
    ]


def test_no_role_reaches_another_schools_objects(
    admin: Any, counselor: Any, teacher: Any, their_school: dict[str, Any]
) -> None:
    clients = {"admin": login(admin), "counselor": login(counselor), "teacher": login(teacher)}
    before, before_states = snapshot(), states()
    checked = 0
    for route, _name in routes():
        url = concrete(route, their_school)
        if "<" in url or "(?P" in url:
            pytest.fail(f"route {route} has a parameter this test cannot fill: extend concrete()")
        for role, client in clients.items():
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                status = response.status_code
                # then another school's object is never served or changed
                ok = status in {302, 400, 401, 403, 404, 405} or (
                    status == 200 and not _mentions_their_school(response)
                )
                assert ok, f"{role} {method.upper()} {url} -> {status}"
                checked += 1
    # and nothing anywhere changed
    assert snapshot() == before and states() == before_states
    assert checked == 6 * len(routes()) and len(routes()) >= 50


def _mentions_their_school(response: Any) -> bool:
    """Lists (own school's data) may answer 200; they must not contain the other school."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return b"Zyxwv Theirstudent" in body or b"Theirs-camera-Q" in body or b"Theirroom-Q" in body


def test_anonymous_callers_get_nothing(their_school: dict[str, Any]) -> None:
    client = Client()
    for route, name in routes():
        url = concrete(route, their_school)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            status = response.status_code
            if route.startswith("api/"):
                expected = {401, 403} if name not in DEVICE_AUTH else {400, 401, 403, 405}
                assert status in expected, f"anonymous {method.upper()} {url} -> {status}"
            else:
                assert status in {302, 403, 405}, f"anonymous {method.upper()} {url} -> {status}"
                if status == 302:
                    assert "/accounts/login/" in response["Location"], url
