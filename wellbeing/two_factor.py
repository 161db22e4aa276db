"""Two-factor sign-in for staff (django-otp): who must use it, from when, and their devices.

A school requires two-factor of some roles (``Organization.two_factor_roles``; new schools:
admins and counselors). Staff whose account existed before their role's requirement began may
still sign in without it for the school's grace period (prompted at each sign-in); after it, and
at once for staff who joined later, the site is closed to them except the setup page
(``wellbeing.middleware.TwoFactorRequiredMiddleware``; WebSockets:
``wellbeing.websocket_two_factor``). Anyone with an authenticator set up
must use it: a session that was not verified with a code is sent to verify first.

Changes (turning it on or off, backup codes, the policy) are audited actions in
``wellbeing.actions.two_factor``; this module only reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import segno
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from wellbeing.models import Organization, StaffMember
from wellbeing.oidc_sign_in import idp_verified_mfa, session_idp_mfa
from wellbeing.otp_devices import BackupCodeDevice, looks_like_backup_code

# Set at sign-in for a member in the grace period: the next page is the setup page, once.
PROMPT_SESSION_KEY = "two_factor_prompt"
TOKEN_ATTRS = {"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}


class Gate(StrEnum):
    """What a signed-in request may do, as far as two-factor goes."""

    ALLOW = "allow"
    SET_UP = "set_up"  # required and past the deadline, no authenticator yet
    VERIFY = "verify"  # has an authenticator, but this session did not use it


def confirmed_totp(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def has_confirmed_device(user: AbstractBaseUser) -> bool:
    return confirmed_totp(user) is not None


def backup_codes_left(user: AbstractBaseUser) -> int:
    device = BackupCodeDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    return device.remaining() if device is not None else 0


def device_for_token(user: AbstractBaseUser, token: str) -> Device | None:
    """The user's backup codes for a backup-code-shaped token, else their authenticator.

    Choosing by shape means nobody picks a device, and a code is checked against one device
    only (django-otp would otherwise count a failure against every device it did not match).
    """
    if looks_like_backup_code(token):
        backup = BackupCodeDevice.objects.filter(user_id=user.pk, confirmed=True).first()
        if backup is not None:
            return backup
    return confirmed_totp(user)


def choose_device(form: OTPAuthenticationFormMixin, cleaned: dict[str, Any]) -> None:
    """Fill an OTP form's ``otp_device`` from its ``otp_token`` (see device_for_token)."""
    user = form.get_user()
    device = device_for_token(user, cleaned.get("otp_token") or "") if user else None
    cleaned["otp_device"] = device.persistent_id if device is not None else ""


class OptionalOTPAuthenticationForm(OTPAuthenticationFormMixin, AuthenticationForm):
    """Staff sign-in: a password, plus a code (authenticator or backup) from those who set up
    two-factor. Whether a member *must* have set it up is the policy's business
    (wellbeing.middleware.TwoFactorRequiredMiddleware), not this form's."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=False,
        label="Authenticator code or backup code (if you set up two-factor sign-in)",
        widget=forms.TextInput(attrs=TOKEN_ATTRS),
    )
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and confirmed_totp(user) is not None:
            choose_device(self, cleaned)
            self.clean_otp(user)
        return cleaned


def session_verified(request: HttpRequest) -> bool:
    """Whether this session signed in (or confirmed) with a second factor: an authenticator or
    backup code (django-otp's OTPMiddleware sets ``request.user.otp_device`` from the session),
    or a school identity provider that says it used more than one factor (``amr`` contains
    ``mfa``; docs/sign-in.md, "Two-factor")."""
    otp = getattr(request.user, "otp_device", None) is not None
    return otp or idp_verified_mfa(request)


def session_store_verified(user: AbstractBaseUser, session: SessionBase | None) -> bool:
    """``session_verified`` of a session read without an HTTP request (a WebSocket's scope,
    where django-otp's OTPMiddleware does not run): the device django-otp recorded in the
    session when it accepted a code counts if it is still a confirmed device of this user, as
    OTPMiddleware decides; or the identity provider said it used more than one factor."""
    if session is None:
        return False
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    if device is not None and device.user_id == user.pk and device.confirmed:
        return True
    return session_idp_mfa(session)


def secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode()


def otpauth_qr_svg(otpauth_url: str) -> SafeString:
    """The otpauth:// URI as a QR code in inline SVG, for the setup page.

    Made here (segno, pure Python): no image service ever sees the key. Error correction M,
    4 px modules with the standard 4-module quiet zone on white, so it scans on any page
    background. Presentation attributes only (no inline style, no link), so the Content
    Security Policy (no 'unsafe-inline') holds. Safe to insert unescaped: segno escapes the
    title and writes only numbers and its own markup.
    """
    qr = segno.make(otpauth_url, error="m", micro=False)
    svg = qr.svg_inline(
        scale=4,
        light="#fff",
        svgclass="totp-qr",
        lineclass=None,
        title="QR code of your two-factor key, for an authenticator app",
    )
    return mark_safe(svg)  # noqa: S308 (segno's own markup, see above)


def otpauth_qr_text(otpauth_url: str) -> str:
    """The otpauth:// URI as a QR code of Unicode half blocks, for a terminal (the operator's
    command): blocks are the light modules, so it scans on a dark terminal background; lines
    end with a newline."""
    out = io.StringIO()
    segno.make(otpauth_url, error="m", micro=False).terminal(out=out, compact=True)
    return out.getvalue()


def requirement_start(org: Organization, role: str) -> dt.datetime | None:
    """When ``role`` became required at ``org`` (None: not required)."""
    if role not in org.two_factor_roles:
        return None
    since = org.two_factor_required_since.get(role)
    return dt.datetime.fromisoformat(since) if since else org.created_at


@dataclass(frozen=True)
class TwoFactorStatus:
    """One staff member's two-factor standing at ``now``."""

    required: bool
    enabled: bool
    deadline: dt.datetime | None  # required and not enabled: the last moment without it
    now: dt.datetime

    @property
    def overdue(self) -> bool:
        return self.deadline is not None and self.now >= self.deadline

    @property
    def in_grace(self) -> bool:
        """Required, not set up yet, and still allowed in (to be prompted)."""
        return self.deadline is not None and self.now < self.deadline


def two_factor_status(staff: StaffMember, now: dt.datetime | None = None) -> TwoFactorStatus:
    """Whether ``staff`` must use two-factor, has it, and until when they may do without.

    The grace period counts from the role's requirement start for staff whose account is older;
    staff who joined after the requirement began have none.
    """
    now = now or timezone.now()
    enabled = has_confirmed_device(staff.user)
    start = requirement_start(staff.organization, staff.role)
    deadline = None
    if start is not None and not enabled:
        joined = staff.user.date_joined
        grace = dt.timedelta(days=staff.organization.two_factor_grace_days)
        deadline = start + grace if joined < start else joined
    return TwoFactorStatus(required=start is not None, enabled=enabled, deadline=deadline, now=now)


def gate_for(staff: StaffMember, session_verified: bool) -> Gate:
    """What two-factor lets this member's session do right now. A session verified with a
    second factor is let in, also when that factor was the identity provider's."""
    if session_verified:
        return Gate.ALLOW
    status = two_factor_status(staff)
    if status.enabled:
        return Gate.VERIFY
    return Gate.SET_UP if status.overdue else Gate.ALLOW
