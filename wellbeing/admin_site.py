"""The Django admin (the operator's tool) requires a second factor.

It reads every school's data, so a password alone must not open it: django-otp's OTPAdminSite
lets in only a session verified with an authenticator code or a backup code, and its sign-in
form asks for one. Operators set up their authenticator with ``manage.py operator_two_factor``.
Each sign-in is written to every school's audit trail (wellbeing.actions.two_factor).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django_otp.admin import OTPAdminSite

from wellbeing.actions.two_factor import record_operator_event
from wellbeing.otp_devices import BackupCodeDevice
from wellbeing.two_factor_forms import OperatorAdminAuthenticationForm


class OperatorAdminSite(OTPAdminSite):
    login_form = OperatorAdminAuthenticationForm
    login_template = "admin/two_factor_login.html"

    def __init__(self, name: str = "admin") -> None:
        # Named "admin" (not django-otp's "otpadmin") so admin:… URLs keep their names.
        super().__init__(name)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().login(request, extra_context)
        user, device = request.user, getattr(request.user, "otp_device", None)
        signed_in = request.method == "POST" and response.status_code == 302
        if signed_in and device is not None and isinstance(user, AbstractBaseUser):
            record_operator_event(
                user,
                "operator.admin_sign_in",
                request,
                second_factor="backup code"
                if isinstance(device, BackupCodeDevice)
                else "authenticator",
            )
        return response
