"""Small factory functions for test data (real rows in the real database)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth.models import User

from consent.actions import publish_notice, record_consent
from consent.models import ConsentNotice, ConsentRecord, Decision, GivenBy
from wellbeing.actions import AuditContext
from wellbeing.models import (
    CaseloadAssignment,
    Classroom,
    Guardian,
    Jurisdiction,
    Organization,
    Participant,
    Role,
    StaffMember,
)

_seq = itertools.count(1)


def make_organization(name: str = "Northside School", **fields: object) -> Organization:
    n = next(_seq)
    # No two-factor requirement unless a test asks for one (tests/wellbeing/test_two_factor_*):
    # other tests sign staff in with force_login, which a required second factor would stop.
    defaults: dict[str, object] = {
        "jurisdiction": Jurisdiction.UK,
        "timezone": "Europe/London",
        "two_factor_roles": [],
    }
    defaults.update(fields)
    return Organization.objects.create(name=name, slug=f"school-{n}", **defaults)


def make_staff(org: Organization, role: str, username: str | None = None) -> StaffMember:
    name = username or f"{role}{next(_seq)}"
    user = User.objects.create_user(name, f"{name}@example.org", "pw-correct-horse")
    return StaffMember.objects.create(user=user, organization=org, role=role)


def make_classroom(
    org: Organization, name: str = "7B", teacher: StaffMember | None = None
) -> Classroom:
    classroom = Classroom.objects.create(organization=org, name=name, grade="7")
    if teacher is not None:
        classroom.teachers.add(teacher)
    return classroom


def make_participant(
    org: Organization,
    name: str = "Alex Student",
    classroom: Classroom | None = None,
    counselor: StaffMember | None = None,
) -> Participant:
    participant = Participant.objects.create(organization=org, full_name=name, grade="7")
    if classroom is not None:
        participant.classrooms.add(classroom)
    if counselor is not None:
        CaseloadAssignment.objects.create(counselor=counselor, participant=participant)
    return participant


def make_guardian(participant: Participant, name: str = "Sam Parent") -> Guardian:
    return Guardian.objects.create(
        participant=participant, name=name, relation="parent", email="parent@example.org"
    )


def make_notice(org: Organization) -> ConsentNotice:
    return publish_notice(
        AuditContext.system(org),
        "Emotion analysis in class",
        "We analyse facial expressions...",
        confirmed=True,
    )


def grant_consent(
    participant: Participant,
    guardian: Guardian | None = None,
    scopes: tuple[str, ...] = ("emotion_analysis", "face_template"),
    decision: str = Decision.GRANT,
    given_by: str = GivenBy.GUARDIAN,
) -> ConsentRecord:
    return record_consent(
        AuditContext.system(participant.organization),
        participant,
        scopes=scopes,
        decision=decision,
        given_by=given_by,
        guardian=guardian if given_by == GivenBy.GUARDIAN else None,
        evidence_reference="form-2026-001",
        evidence_date=dt.date(2026, 9, 1),
    )


__all__ = ["Role"]
