"""Two-factor changes, each audited: a member's authenticator and backup codes, a school's
policy, and the operator's authenticator and Django admin sign-ins.

Secrets never reach the audit trail or a log: events name what changed and how many codes, not
the key or the codes.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import Organization, StaffMember
from wellbeing.otp_devices import BackupCode, BackupCodeDevice, hash_backup_code, new_backup_code
from wellbeing.refusals import Refused

__all__ = [
    "BACKUP_CODE_COUNT",
    "TwoFactorRefused",
    "confirm_operator_totp",
    "confirm_totp",
    "disable_two_factor",
    "generate_backup_codes",
    "generate_operator_backup_codes",
    "operator_context",
    "record_operator_event",
    "record_two_factor_sign_in",
    "reset_member_two_factor",
    "start_totp_setup",
    "update_two_factor_policy",
]

BACKUP_CODE_COUNT = 10


class TwoFactorRefused(Refused):
    """A two-factor change was refused; nothing changed."""


def start_totp_setup(user: AbstractBaseUser) -> TOTPDevice:
    """Create (or reuse) the user's unconfirmed TOTP device; it counts once confirmed."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    return device


def _confirm(device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token.strip()):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One authenticator per person: a second confirmed one would be a second way in.
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    return True


def confirm_totp(ctx: AuditContext, device: TOTPDevice, token: str) -> bool:
    """Confirm the device if ``token`` is a current code; returns whether it was (audited)."""
    with transaction.atomic():
        confirmed = _confirm(device, token)
        if confirmed:
            record_audit(ctx, "account.two_factor_enabled", target=device.user)
    return confirmed


def confirm_operator_totp(device: TOTPDevice, token: str) -> bool:
    """Confirm an operator's authenticator (``manage.py operator_two_factor``); the event goes
    to every school's audit trail."""
    with transaction.atomic():
        confirmed = _confirm(device, token)
        if confirmed:
            record_operator_event(device.user, "operator.two_factor_enabled")
    return confirmed


def _delete_devices(user: AbstractBaseUser) -> int:
    totp: int = TOTPDevice.objects.filter(user_id=user.pk).delete()[0]
    BackupCodeDevice.objects.filter(user_id=user.pk).delete()
    return totp


def disable_two_factor(ctx: AuditContext, staff: StaffMember, *, required: bool) -> None:
    """The member turns off their own two-factor (refused while their school requires it)."""
    if required:
        raise TwoFactorRefused(
            "Your school requires two-factor sign-in for your role, so it stays on. "
            "Ask a school admin to reset it if you lost your device."
        )
    with transaction.atomic():
        _delete_devices(staff.user)
        record_audit(ctx, "account.two_factor_disabled", target=staff.user)


def reset_member_two_factor(ctx: AuditContext, member: StaffMember) -> None:
    """A school admin removes a member's authenticator and backup codes (a lost device); the
    member sets two-factor up again at the next sign-in if their role requires it."""
    if member.organization_id != ctx.organization.pk:
        raise TwoFactorRefused("That staff member is not in your school.")
    with transaction.atomic():
        removed = _delete_devices(member.user)
        record_audit(
            ctx, "account.two_factor_reset", target=member.user, had_authenticator=bool(removed)
        )


def _replace_backup_codes(user: AbstractBaseUser) -> tuple[list[str], int]:
    """New codes for ``user`` (stored hashed) and how many unused ones they replaced."""
    if not TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists():
        raise TwoFactorRefused("Set up an authenticator app before making backup codes.")
    codes = [new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    device, _ = BackupCodeDevice.objects.select_for_update().get_or_create(
        user_id=user.pk, defaults={"name": "Backup codes", "confirmed": True}
    )
    replaced, _ = device.codes.all().delete()
    BackupCode.objects.bulk_create(
        BackupCode(device=device, code_hash=hash_backup_code(code)) for code in codes
    )
    return codes, replaced


def generate_backup_codes(ctx: AuditContext, user: AbstractBaseUser) -> list[str]:
    """Ten new single-use codes (returned once, stored hashed); earlier codes stop working."""
    with transaction.atomic():
        codes, replaced = _replace_backup_codes(user)
        record_audit(
            ctx, "account.backup_codes_generated", target=user, count=len(codes), replaced=replaced
        )
    return codes


def generate_operator_backup_codes(user: AbstractBaseUser) -> list[str]:
    """As generate_backup_codes, for an operator (audited in every school's trail)."""
    with transaction.atomic():
        codes, replaced = _replace_backup_codes(user)
        record_operator_event(
            user, "operator.backup_codes_generated", count=len(codes), replaced=replaced
        )
    return codes


def record_two_factor_sign_in(ctx: AuditContext, staff: StaffMember, device: Device) -> None:
    """Audit a sign-in that used a backup code (TOTP sign-ins are routine and not recorded)."""
    if isinstance(device, BackupCodeDevice):
        record_audit(ctx, "account.backup_code_used", target=staff.user, left=device.remaining())


def update_two_factor_policy(
    ctx: AuditContext, *, roles: list[str] | None = None, grace_days: int | None = None
) -> Organization:
    """Change which roles must use two-factor, or the grace period, for the actor's school.

    A role newly required starts its requirement now, so its existing staff get the grace
    period from today; a role no longer required forgets its start. Validated by
    ``Organization.full_clean``; audited with before and after.
    """
    with transaction.atomic():
        school = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        before = _policy(school)
        if roles is not None:
            since = dict(school.two_factor_required_since)
            for role in set(roles) - set(school.two_factor_roles):
                since[role] = timezone.now().isoformat()
            school.two_factor_required_since = {r: s for r, s in since.items() if r in roles}
            school.two_factor_roles = sorted(roles)
        if grace_days is not None:
            school.two_factor_grace_days = grace_days
        school.full_clean()
        school.save()
        if _policy(school) != before:
            record_audit(
                ctx, "school.two_factor_policy", target=school, before=before, after=_policy(school)
            )
    return school


def _policy(school: Organization) -> dict[str, Any]:
    return {"roles": list(school.two_factor_roles), "grace_days": school.two_factor_grace_days}


def operator_context(
    organization: Organization, user: AbstractBaseUser, request: HttpRequest | None
) -> AuditContext:
    """The operator acting on the whole site, as seen from one school's audit trail."""
    if request is not None:
        return AuditContext.operator(request, organization)
    return AuditContext(
        organization=organization, actor=user, actor_label=f"{user.get_username()} (operator)"
    )


def record_operator_event(
    user: AbstractBaseUser, action: str, request: HttpRequest | None = None, **detail: Any
) -> int:
    """Write an operator's event into every school's audit trail; returns how many.

    The operator (Django admin) can read every school's data, so each school's trail shows who
    could, and how they signed in. With no school yet there is no trail to write to.
    """
    schools = list(Organization.objects.all())
    for school in schools:
        record_audit(operator_context(school, user, request), action, **detail)
    return len(schools)
