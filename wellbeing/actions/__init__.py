"""Core actions: audit trail and capture-device tokens.

Every function that reads or changes a participant's data writes an AuditEvent through
:func:`record_audit`; views never write audit events themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
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
    staff_of,
)
from wellbeing.refusals import NotYours, Refused

if TYPE_CHECKING:
    from rest_framework.request import Request

TOKEN_PREFIX_LENGTH = 8


class DeviceAuthError(PermissionError):
    """The device token is missing, unknown or revoked."""


class DeviceRefused(Refused):
    """A capture device cannot be registered or given a token as asked."""


class CaseloadRefused(Refused):
    """The participant cannot go on that staff member's caseload."""


class ClassroomRefused(Refused):
    """The classroom cannot be created or changed as asked (e.g. an unknown face detector)."""


class SchoolSettingsRefused(Refused):
    """A school admin asked to change a setting that stays with the operator."""


def _origin(request: HttpRequest | Request) -> dict[str, Any]:
    # DRF's Request hands META through to the Django request it wraps.
    return {
        "ip_address": request.META.get("REMOTE_ADDR"),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from where; built once per request (or for a system job)."""

    organization: Organization
    actor: Any = None
    actor_label: str = "system"
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(
        cls, request: HttpRequest | Request, staff: StaffMember | None = None
    ) -> AuditContext:
        """The staff member acting through ``request`` (a page's or the API's), from its address.

        ``staff`` defaults to the signed-in user's StaffMember; pass it when the request is not
        signed in yet (the set-password page). Raises PermissionDenied (403) for a user without
        a staff role, so no event is written without an organization.
        """
        staff = staff or staff_of(request.user)
        if staff is None:
            raise PermissionDenied("Your role does not allow this.")
        # request.user, when it is the member, saves loading the member's user row again.
        user = request.user if request.user.pk == staff.user_id else staff.user
        return cls(
            organization=staff.organization,
            actor=user,
            actor_label=f"{user.get_username()} ({staff.role})",
            **_origin(request),
        )

    @classmethod
    def operator(cls, request: HttpRequest, organization: Organization) -> AuditContext:
        """The site operator (Django admin, across schools) acting on ``organization``'s data."""
        return cls(
            organization=organization,
            actor=request.user,
            actor_label=f"{request.user.get_username()} (operator)",
            **_origin(request),
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
        raise DeviceRefused("A device belongs to exactly one classroom or one participant.")
    for owner in (classroom, participant):
        if owner is not None and owner.organization_id != ctx.organization.pk:
            raise DeviceRefused("The classroom or participant belongs to another school.")
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
        raise NotYours("That device belongs to another school.")


def rotate_device_token(ctx: AuditContext, device: CaptureDevice) -> str:
    """Replace the device's token; the old one stops working immediately."""
    _ensure_own_device(ctx, device)
    if device.is_revoked:
        raise DeviceRefused("A revoked device cannot be given a new token.")
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
        raise SchoolSettingsRefused(
            f"Only these settings can be changed: {', '.join(SCHOOL_SETTINGS)}."
        )
    with transaction.atomic():
        school = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        before = {name: getattr(school, name) for name in changes}
        for name, value in changes.items():
            setattr(school, name, value)
        school.full_clean()
        school.save(update_fields=sorted(changes))
        record_audit(ctx, "school.update", target=school, before=before, after=changes)
    return school
