"""Every page and endpoint x every role, inside the caller's own school.

The companion of test_authorization_matrix (another school's objects): walks the URL resolver
with this school's objects and checks, for each role, what the rules of docs/privacy.md say:
teachers never see a student (class-level aggregates only), counselors never see a student
outside their caseload, and every read of a participant's data by anyone is audited.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import Alert, Rule
from capture.devices import create_device
from capture.models import ClassSession
from tests.conftest import login
from tests.factories import grant_consent, make_guardian, make_participant
from tests.security.conftest import concrete, routes
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Classroom, Participant, StaffMember

UNASSIGNED = "Quinn Unassigned-Zq"


SELECT = re.compile(rb"<select\b.*?</select>", re.DOTALL | re.IGNORECASE)
# The audit trail's own pages name pseudonyms: they show the trail, not the person's data.
TRAIL = ("/audit/",)


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _shown_data(response: Any) -> bytes:
    """The answer without form choice lists (a name to pick from is not the person's data)."""
    return SELECT.sub(b"", _body(response))


@pytest.fixture
def our_school(
    student: Participant, classroom: Classroom, notice: Any, admin: StaffMember
) -> dict[str, Any]:
    """The caller's school: a caseload student with data, and a student on nobody's caseload."""
    school = student.organization
    record = grant_consent(student, make_guardian(student))
    other = make_participant(school, UNASSIGNED, classroom)
    grant_consent(other, make_guardian(other))
    device, _ = create_device(AuditContext.system(school), "Our camera", classroom=classroom)
    session = ClassSession.objects.create(classroom=classroom, status="running")
    rule = Rule.objects.filter(organization=school).first()
    assert rule is not None
    today = timezone.localdate()
    alerts = {
        person.pk: Alert.objects.create(
            organization=school, participant=person, rule=rule, rule_slug=rule.slug,
            severity="notify", evidence={}, window_start=today - dt.timedelta(days=4),
            window_end=today, raised_at=timezone.now(),
        )
        for person in (student, other)
    }  # fmt: skip
    ids = {
        "participant": student.pk, "record": record.pk, "notice": notice.pk,
        "classroom": classroom.pk, "device": device.pk, "session": session.pk, "rule": rule.pk,
        "alert": alerts[student.pk].pk, "erasure": 0,
    }  # fmt: skip
    unassigned = {
        **ids, "participant": other.pk, "alert": alerts[other.pk].pk,
        "record": other.consent_records.get().pk,
    }  # fmt: skip
    return {"ids": ids, "unassigned": unassigned, "student": student, "other": other}


def _get_all(staff: StaffMember, ids: dict[str, Any]) -> list[tuple[str, int, bytes]]:
    client = login(staff)
    out = []
    for route, _name in routes():
        url = concrete(route, ids)
        response = client.get(url)
        out.append((url, response.status_code, _body(response)))
    return out


def test_teachers_never_see_a_student(teacher: StaffMember, our_school: dict[str, Any]) -> None:
    # when a teacher opens every page and endpoint with their own school's objects
    names = [p.full_name.encode() for p in (our_school["student"], our_school["other"])]
    names += [p.pseudonym.encode() for p in (our_school["student"], our_school["other"])]
    for ids in (our_school["ids"], our_school["unassigned"]):
        for url, status, body in _get_all(teacher, ids):
            # then no answer names or identifies a student (class-level aggregates only)
            assert not any(name in body for name in names), f"teacher GET {url} -> {status}"


def test_counselors_see_only_their_caseload(
    counselor: StaffMember, our_school: dict[str, Any]
) -> None:
    other: Participant = our_school["other"]
    for ids in (our_school["ids"], our_school["unassigned"]):
        for url, status, body in _get_all(counselor, ids):
            leaked = other.full_name.encode() in body or other.pseudonym.encode() in body
            assert not leaked, f"counselor GET {url} -> {status}"


def _mentions_of(participant: Participant) -> int:
    """Audit events about the participant: their own, or a list page that showed them."""
    return (
        AuditEvent.objects.filter(participant_pseudonym=participant.pseudonym).count()
        + AuditEvent.objects.filter(detail__pseudonyms__contains=[participant.pseudonym]).count()
    )


def _about_one_participant(route: str) -> bool:
    """Routes whose answer is one participant's data even when it carries no name (a series)."""
    has_pk = "<int:pk>" in route or "(?P<pk>" in route
    about_alert = "alerts/" in route and "rules" not in route
    return has_pk and ("participants/" in route or about_alert or route.startswith("students/"))


def test_every_read_of_a_participants_data_is_audited(
    admin: StaffMember, our_school: dict[str, Any]
) -> None:
    # given an admin, who may open every page of the school
    student: Participant = our_school["student"]
    client = login(admin)
    unaudited, read = [], 0
    for route, _name in routes():
        url = concrete(route, our_school["ids"])
        before = _mentions_of(student)
        # when a page or endpoint answers with the student's data (named, or theirs alone)
        response = client.get(url)
        body = _shown_data(response)
        names_student = student.full_name.encode() in body or student.pseudonym.encode() in body
        if url.startswith(TRAIL) or response.status_code != 200:
            continue
        if not (names_student or _about_one_participant(route)):
            continue
        read += 1
        # then that read is on the audit trail, naming the student
        if _mentions_of(student) == before:
            unaudited.append(url)
    assert unaudited == [], "\n".join(unaudited)
    assert read >= 8
