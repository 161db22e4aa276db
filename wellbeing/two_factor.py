"""Optional TOTP two-factor sign-in for staff (django-otp).

Staff without a confirmed device sign in with a password; once a member confirms a TOTP device
(an authenticator app), every sign-in also needs a current code.
"""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django_otp import devices_for_user
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice


def has_confirmed_device(user: AbstractBaseUser) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


class OptionalOTPAuthenticationForm(OTPAuthenticationFormMixin, AuthenticationForm):
    """Password sign-in; a one-time code is required only from users who set one up."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=False,
        label="Authenticator code (only if you set up two-factor sign-in)",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        devices = list(devices_for_user(user, confirmed=True)) if user is not None else []
        if devices:
            # Staff have one authenticator; choose it rather than asking which.
            if not cleaned.get("otp_device"):
                cleaned["otp_device"] = devices[0].persistent_id
            self.clean_otp(user)
        return cleaned


def start_totp_setup(user: AbstractBaseUser) -> TOTPDevice:
    """Create (or reuse) the user's unconfirmed TOTP device; it counts once confirmed."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    return device


def secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode()


def confirm_totp(device: TOTPDevice, token: str) -> bool:
    """Confirm the device if ``token`` is a current code; returns whether it was."""
    if device.verify_token(token.strip()):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return True
    return False
