"""The operator's Django admin sign-in with a second factor, the code form and the school's
two-factor policy form (the staff sign-in form is wellbeing.two_factor's).

One field takes either a 6-digit authenticator code or a backup code; the device is chosen by
the code's shape (wellbeing.two_factor.device_for_token).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.forms import OTPAuthenticationFormMixin

from wellbeing.models import TWO_FACTOR_MAX_GRACE_DAYS, Role
from wellbeing.two_factor import TOKEN_ATTRS, choose_device


class OperatorAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """Django admin sign-in: password and a code, always (no password-only way in)."""

    otp_token = forms.CharField(
        required=False,
        label="Authenticator code or backup code",
        widget=forms.TextInput(attrs=TOKEN_ATTRS),
    )
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": "Enter the code from your authenticator app (or a backup code).",
        "device_required": (
            "This account has no authenticator: set one up with "
            "`manage.py operator_two_factor <username>` first."
        ),
    }

    def clean(self) -> dict[str, Any]:
        cleaned = AdminAuthenticationForm.clean(self)  # the password, and is_staff
        choose_device(self, cleaned)
        self.clean_otp(self.get_user())
        return cleaned


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={**TOKEN_ATTRS, "autofocus": True}),
    )


class TwoFactorPolicyForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Roles that must use two-factor sign-in",
    )
    grace_days = forms.IntegerField(
        min_value=0,
        max_value=TWO_FACTOR_MAX_GRACE_DAYS,
        label="Grace period for existing staff (days)",
    )
