"""Core actions: audit trail and capture-device tokens.

Every function that reads or changes a participant's data writes an AuditEvent through
:func:`record_audit`; views never write audit events themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from wellbeing.models import (
    AuditEvent,
    CaptureDevice,
    CaseloadAssignment,
    Classroom,
    FaceDetector,
    Guardian,
    Organization,
    Participant,
    Role,
    StaffMember,
)

TOKEN_PREFIX_LENGTH = 8


class DeviceAuthError(PermissionError):
    """The device token is missing, unknown or revoked."""


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from where; built once per request (or for a system job)."""

    organization: Organization
    actor: Any = None
    actor_label: str = "system"
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, staff: StaffMember) -> AuditContext:
        return cls(
            organization=staff.organization,
            actor=request.user,
            actor_label=f"{request.user.get_username()} ({staff.role})",
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def operator(cls, request: HttpRequest, organization: Organization) -> AuditContext:
        """The site operator (Django admin, across schools) acting on ``organization``'s data."""
        return cls(
            organization=organization,
            actor=request.user,
            actor_label=f"{request.user.get_username()} (operator)",
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def system(cls, organization: Organization, label: str = "system") -> AuditContext:
        return cls(organization=organization, actor_label=label)


def record_audit(
    ctx: AuditContext,
    action: str,
    *,
    target: Any = None,
    participant: Participant | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event. Never raises for missing optional context."""
    return AuditEvent.objects.create(
        organization=ctx.organization,
        actor=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
        actor_label=ctx.actor_label,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        participant_pseudonym=participant.pseudonym if participant else "",
        detail=detail,
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent,
    )


def hash_token(token: str) -> str:
    """SHA-256 of a device token. Tokens carry 256 bits of randomness, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return "wbd_" + secrets.token_urlsafe(32)


def create_device(
    ctx: AuditContext,
    name: str,
    *,
    classroom: Classroom | None = None,
    participant: Participant | None = None,
) -> tuple[CaptureDevice, str]:
    """Register a device and return it with its plaintext token (shown once, never stored)."""
    if (classroom is None) == (participant is None):
        raise ValueError("A device belongs to exactly one classroom or one participant.")
    for owner in (classroom, participant):
        if owner is not None and owner.organization_id != ctx.organization.pk:
            raise ValueError("The classroom or participant belongs to another school.")
    token = _new_token()
    device = CaptureDevice.objects.create(
        organization=ctx.organization,
        name=name,
        classroom=classroom,
        participant=participant,
        token_prefix=token[:TOKEN_PREFIX_LENGTH],
        token_hash=hash_token(token),
    )
    record_audit(ctx, "device.create", target=device, participant=participant, name=name)
    return device, token


def _ensure_own_device(ctx: AuditContext, device: CaptureDevice) -> None:
    # Views look devices up through visible_to; this guards every other caller too.
    if device.organization_id != ctx.organization.pk:
        raise PermissionError("That device belongs to another school.")


def rotate_device_token(ctx: AuditContext, device: CaptureDevice) -> str:
    """Replace the device's token; the old one stops working immediately."""
    _ensure_own_device(ctx, device)
    if device.is_revoked:
        raise ValueError("A revoked device cannot be given a new token.")
    token = _new_token()
    device.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    device.token_hash = hash_token(token)
    device.rotated_at = timezone.now()
    device.save(update_fields=["token_prefix", "token_hash", "rotated_at"])
    record_audit(ctx, "device.rotate", target=device)
    return token


def revoke_device(ctx: AuditContext, device: CaptureDevice) -> None:
    """Revoke the device for good; its token is refused from now on."""
    _ensure_own_device(ctx, device)
    with transaction.atomic():
        device.revoked_at = device.revoked_at or timezone.now()
        device.save(update_fields=["revoked_at"])
        record_audit(ctx, "device.revoke", target=device)


def authenticate_device(token: str) -> CaptureDevice:
    """The active device holding ``token``; raises DeviceAuthError otherwise."""
    if not token:
        raise DeviceAuthError("No device token was sent.")
    device = (
        CaptureDevice.objects.select_related("organization", "classroom", "participant")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if device is None:
        raise DeviceAuthError("Unknown device token.")
    if device.is_revoked:
        raise DeviceAuthError("This device has been revoked; ask an admin for a new one.")
    return device


def create_participant(
    ctx: AuditContext,
    full_name: str,
    *,
    grade: str = "",
    classrooms: list[Classroom] | tuple[Classroom, ...] = (),
) -> Participant:
    """Create a student in the actor's organization (classrooms must be of the same school)."""
    if any(c.organization_id != ctx.organization.pk for c in classrooms):
        raise PermissionError("That classroom belongs to another school.")
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
        raise PermissionError("That participant belongs to another school.")
    classrooms = fields.pop("classrooms", None)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(participant, name, value)
        participant.save()
        if classrooms is not None:
            if any(c.organization_id != ctx.organization.pk for c in classrooms):
                raise PermissionError("That classroom belongs to another school.")
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
        raise PermissionError("That participant belongs to another school.")
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
        raise ValueError("Only counselors have a caseload.")
    if not counselor.user.is_active:
        raise ValueError("That counselor is deactivated.")
    if ctx.organization.pk not in (counselor.organization_id, participant.organization_id) or (
        counselor.organization_id != participant.organization_id
    ):
        raise PermissionError("Counselor and participant must belong to your school.")
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


def _ensure_teachers(ctx: AuditContext, teachers: list[StaffMember]) -> None:
    if any(t.organization_id != ctx.organization.pk or t.role != Role.TEACHER for t in teachers):
        raise PermissionError("Only teachers of your school can teach its classrooms.")


def _ensure_detector(detector: str) -> None:
    if detector not in FaceDetector.values:
        raise ValueError(
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

    Raises PermissionError (teacher of another school), ValueError (unknown detector).
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
    value (it changes the workers' CPU cost). Raises PermissionError, ValueError."""
    if classroom.organization_id != ctx.organization.pk:
        raise PermissionError("That classroom belongs to another school.")
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


# What a school admin may change about their school. Jurisdiction, the EU exception and the
# DPIA reference decide whether capture is lawful at all, so they stay with the operator.
SCHOOL_SETTINGS = (
    "timezone",
    "raw_observation_days",
    "minute_aggregate_days",
    "daily_rollup_days",
    "alert_days",
    "audit_days",
    "template_days_after_last_seen",
    "alert_contacts",
)


def update_school_settings(ctx: AuditContext, **changes: Any) -> Organization:
    """Change the actor's own school's settings (validated by the caller); audited with values."""
    unknown = sorted(set(changes) - set(SCHOOL_SETTINGS))
    if unknown or not changes:
        raise ValueError(f"Only these settings can be changed: {', '.join(SCHOOL_SETTINGS)}.")
    with transaction.atomic():
        school = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        before = {name: getattr(school, name) for name in changes}
        for name, value in changes.items():
            setattr(school, name, value)
        school.full_clean()
        school.save(update_fields=sorted(changes))
        record_audit(ctx, "school.update", target=school, before=before, after=changes)
    return school
