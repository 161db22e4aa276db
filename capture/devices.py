"""Capture devices: registration, their tokens (rotation, revocation) and token look-up.

A device's plaintext token is returned once, when made; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from capture.models import CaptureDevice
from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import Classroom, Participant
from wellbeing.refusals import NotYours, Refused

__all__ = [
    "TOKEN_PREFIX_LENGTH",
    "DeviceAuthError",
    "DeviceRefused",
    "authenticate_device",
    "create_device",
    "hash_token",
    "revoke_device",
    "rotate_device_token",
]

TOKEN_PREFIX_LENGTH = 8


class DeviceAuthError(PermissionError):
    """The device token is missing, unknown or revoked."""


class DeviceRefused(Refused):
    """A capture device cannot be registered or given a token as asked."""


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
