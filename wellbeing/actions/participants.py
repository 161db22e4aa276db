"""Participants (students), their guardians and counselors' caseloads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import (
    CaseloadAssignment,
    Classroom,
    Guardian,
    Participant,
    Role,
    StaffMember,
)
from wellbeing.refusals import NotYours, Refused

__all__ = [
    "AGE_FIELDS",
    "CaseloadRefused",
    "ParticipantRefused",
    "add_guardian",
    "assign_caseload",
    "create_participant",
    "update_participant",
]


class CaseloadRefused(Refused):
    """The participant cannot go on that staff member's caseload."""


class ParticipantRefused(Refused):
    """A change of a participant that this action does not make."""


# What the school knows of a student's age decides whose consent counts (consent.age_rules), so
# after creation it changes only through consent.rule_changes.set_participant_age, which shows
# whose consent that ends before it is saved.
AGE_FIELDS = ("date_of_birth", "birth_year", "age_band")


def create_participant(
    ctx: AuditContext,
    full_name: str,
    *,
    grade: str = "",
    classrooms: list[Classroom] | tuple[Classroom, ...] = (),
    date_of_birth: dt.date | None = None,
    birth_year: int | None = None,
    age_band: str = "",
    email: str = "",
) -> Participant:
    """Create a student in the actor's organization (classrooms must be of the same school),
    with what the school knows of their age (validated by the caller; a new student has no
    consent yet, so it changes nobody's processing) and optionally their own e-mail address
    (validated by the caller)."""
    if any(c.organization_id != ctx.organization.pk for c in classrooms):
        raise NotYours("That classroom belongs to another school.")
    with transaction.atomic():
        participant = Participant.objects.create(
            organization=ctx.organization,
            full_name=full_name.strip(),
            grade=grade,
            date_of_birth=date_of_birth,
            birth_year=birth_year,
            age_band=age_band,
            email=email.strip(),
        )
        participant.classrooms.set(classrooms)
        record_audit(ctx, "participant.create", target=participant, participant=participant)
    return participant


def update_participant(ctx: AuditContext, participant: Participant, **fields: Any) -> Participant:
    """Change name, grade or classrooms (``classrooms`` replaces the set); never the age
    fields (see AGE_FIELDS)."""
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
    if set(fields) & set(AGE_FIELDS):
        raise ParticipantRefused(
            "The age on record changes through the consent rules (it decides whose consent "
            "counts), not with the participant's other details."
        )
    classrooms = fields.pop("classrooms", None)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(participant, name, value)
        participant.save()
        if classrooms is not None:
            if any(c.organization_id != ctx.organization.pk for c in classrooms):
                raise NotYours("That classroom belongs to another school.")
            participant.classrooms.set(classrooms)
        changed = sorted([*fields, *(["classrooms"] if classrooms is not None else [])])
        record_audit(
            ctx, "participant.update", target=participant, participant=participant, fields=changed
        )
    return participant


def add_guardian(
    ctx: AuditContext,
    participant: Participant,
    name: str,
    relation: str,
    email: str = "",
    phone: str = "",
) -> Guardian:
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
    guardian = Guardian.objects.create(
        participant=participant, name=name, relation=relation, email=email, phone=phone
    )
    record_audit(ctx, "guardian.create", target=guardian, participant=participant)
    return guardian


def assign_caseload(
    ctx: AuditContext, counselor: StaffMember, participant: Participant
) -> CaseloadAssignment:
    """Put the participant on the counselor's caseload (idempotent)."""
    if counselor.role != Role.COUNSELOR:
        raise CaseloadRefused("Only counselors have a caseload.")
    if not counselor.user.is_active:
        raise CaseloadRefused("That counselor is deactivated.")
    if ctx.organization.pk not in (counselor.organization_id, participant.organization_id) or (
        counselor.organization_id != participant.organization_id
    ):
        raise NotYours("Counselor and participant must belong to your school.")
    assignment, created = CaseloadAssignment.objects.get_or_create(
        counselor=counselor, participant=participant
    )
    if created:
        record_audit(
            ctx,
            "caseload.assign",
            target=assignment,
            participant=participant,
            counselor=counselor.user.get_username(),
        )
    return assignment
