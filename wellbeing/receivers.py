"""Receivers of the wellbeing app, connected in WellbeingConfig.ready."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import record_two_factor_sign_in
from wellbeing.models import staff_of
from wellbeing.two_factor import PROMPT_SESSION_KEY, two_factor_status


def note_two_factor_at_sign_in(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """On every staff sign-in (password or identity provider): audit a backup code's use, and
    have a member in their grace period prompted to set up two-factor on the next page."""
    staff = staff_of(user)
    if staff is None or request is None:
        return
    device = getattr(user, "otp_device", None)
    if device is not None:
        record_two_factor_sign_in(AuditContext.from_request(request, staff), staff, device)
    if two_factor_status(staff).in_grace:
        request.session[PROMPT_SESSION_KEY] = True
