"""Participants (students), their guardians and counselors' caseloads."""

from __future__ import annotations

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
    "CaseloadRefused",
    "add_guardian",
    "assign_caseload",
    "create_participant",
    "update_participant",
]


class CaseloadRefused(Refused):
    """The participant cannot go on that staff member's caseload."""


def create_participant(
    ctx: AuditContext,
    full_name: str,
    *,
    grade: str = "",
    classrooms: list[Classroom] | tuple[Classroom, ...] = (),
) -> Participant:
    """Create a student in the actor's organization (classrooms must be of the same school)."""
    if any(c.organization_id != ctx.organization.pk for c in classrooms):
        raise NotYours("That classroom belongs to another school.")
    with transaction.atomic():
        participant = Participant.objects.create(
            organization=ctx.organization, full_name=full_name.strip(), grade=grade
        )
        participant.classrooms.set(classrooms)
        record_audit(ctx, "participant.create", target=participant, participant=participant)
    return participant


def update_participant(ctx: AuditContext, participant: Participant, **fields: Any) -> Participant:
    """Change name, grade or classrooms (``classrooms`` replaces the set)."""
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
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
