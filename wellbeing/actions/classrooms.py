"""Classrooms: creating and changing them (teachers, face detector), audited alike whichever
way they are saved."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import AuditEvent, Classroom, FaceDetector, Role, StaffMember
from wellbeing.refusals import NotYours, Refused

__all__ = [
    "ClassroomRefused",
    "create_classroom",
    "record_classroom_edit",
    "update_classroom",
]


class ClassroomRefused(Refused):
    """The classroom cannot be created or changed as asked (e.g. an unknown face detector)."""


def _ensure_teachers(ctx: AuditContext, teachers: list[StaffMember]) -> None:
    if any(t.organization_id != ctx.organization.pk or t.role != Role.TEACHER for t in teachers):
        raise NotYours("Only teachers of your school can teach its classrooms.")


def _ensure_detector(detector: str) -> None:
    if detector not in FaceDetector.values:
        raise ClassroomRefused(
            f"Unknown face detector {detector!r}; choose one of {FaceDetector.values}."
        )


def create_classroom(
    ctx: AuditContext,
    name: str,
    *,
    grade: str = "",
    teachers: list[StaffMember] | None = None,
    detector: str = FaceDetector.RFB,
) -> Classroom:
    """Add a classroom to the actor's school, optionally with its teachers and face detector.

    Raises NotYours (teacher of another school), ClassroomRefused (unknown detector).
    """
    _ensure_teachers(ctx, teachers or [])
    _ensure_detector(detector)
    with transaction.atomic():
        classroom = Classroom.objects.create(
            organization=ctx.organization,
            name=name.strip(),
            grade=grade,
            detector=str(detector),
        )
        classroom.teachers.set(teachers or [])
        record_audit(
            ctx, "classroom.create", target=classroom, name=classroom.name, detector=str(detector)
        )
    return classroom


def update_classroom(ctx: AuditContext, classroom: Classroom, **fields: Any) -> Classroom:
    """Rename, regrade, re-staff a classroom (``teachers`` replaces the set) or change its
    face detector; the audit event names the changed fields, and the detector's old and new
    value (it changes the workers' CPU cost). Raises NotYours, ClassroomRefused."""
    if classroom.organization_id != ctx.organization.pk:
        raise NotYours("That classroom belongs to another school.")
    teachers = fields.pop("teachers", None)
    if teachers is not None:
        _ensure_teachers(ctx, teachers)
    detail: dict[str, Any] = {}
    if "detector" in fields:
        _ensure_detector(fields["detector"])
        detail["detector"] = {"before": classroom.detector, "after": fields["detector"]}
    with transaction.atomic():
        for name, value in fields.items():
            setattr(classroom, name, value.strip() if name == "name" else value)
        classroom.save()
        if teachers is not None:
            classroom.teachers.set(teachers)
        changed = sorted([*fields, *(["teachers"] if teachers is not None else [])])
        record_audit(ctx, "classroom.update", target=classroom, fields=changed, **detail)
    return classroom


def record_classroom_edit(
    ctx: AuditContext,
    classroom: Classroom,
    *,
    created: bool,
    fields: list[str],
    detector_before: str | None = None,
) -> AuditEvent:
    """Audit a classroom saved outside create/update_classroom (the operator's Django admin)
    with the same action names and detail, so the trail reads the same whichever way."""
    if created:
        detail: dict[str, Any] = {"name": classroom.name, "detector": classroom.detector}
        return record_audit(ctx, "classroom.create", target=classroom, **detail)
    detail = {"fields": sorted(fields)}
    if "detector" in fields:
        detail["detector"] = {"before": detector_before, "after": classroom.detector}
    return record_audit(ctx, "classroom.update", target=classroom, **detail)
