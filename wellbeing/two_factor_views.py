"""Two-factor pages: a member's own setup (verify, backup codes, turning it off) and the school
admin's policy page. Sign-in itself is wellbeing.sign_in_views with wellbeing.two_factor's form.
Thin: the rules are in wellbeing.two_factor, the audited changes in wellbeing.actions.two_factor.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import (
    TwoFactorRefused,
    confirm_totp,
    disable_two_factor,
    generate_backup_codes,
    record_two_factor_sign_in,
    reset_member_two_factor,
    start_totp_setup,
    update_two_factor_policy,
)
from wellbeing.models import Role, StaffMember
from wellbeing.two_factor import (
    backup_codes_left,
    device_for_token,
    otpauth_qr_svg,
    secret_base32,
    session_verified,
    two_factor_status,
)
from wellbeing.two_factor_forms import TokenForm, TwoFactorPolicyForm
from wellbeing.web_access import staff_required


def _next_url(request: HttpRequest) -> str:
    """Where to go after the two-factor page: a same-site ``next``, else the home page."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if safe else reverse("dashboard:home")


def _check_code(request: HttpRequest, staff: StaffMember) -> Any:
    """The device that accepted the posted code (authenticator or backup), or None."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return None
    token = form.cleaned_data["token"].strip()
    device = device_for_token(staff.user, token)
    return device if device is not None and device.verify_token(token) else None


@staff_required()
def two_factor_setup(request: HttpRequest, staff: StaffMember) -> HttpResponseBase:
    """Set up two-factor, verify this session with it, or see and manage it."""
    status = two_factor_status(staff)
    if status.enabled and not session_verified(request):
        return _verify(request, staff)
    context = {"status": status, "next": _next_url(request), "form": TokenForm()}
    if status.enabled:
        context["backup_codes_left"] = backup_codes_left(staff.user)
        return render(request, "wellbeing/two_factor.html", context)
    device = start_totp_setup(staff.user)
    if request.method == "POST":
        ctx = AuditContext.from_request(request, staff)
        if confirm_totp(ctx, device, request.POST.get("token", "")):
            otp_login(request, device)
            codes = generate_backup_codes(ctx, staff.user)
            messages.success(request, "Two-factor sign-in is on: you will need a code next time.")
            return render(request, "wellbeing/two_factor_codes.html", {**context, "codes": codes})
        messages.error(request, "That code is not valid; check your device's clock and retry.")
    context.update(
        secret=secret_base32(device),
        otpauth_url=device.config_url,
        qr_svg=otpauth_qr_svg(device.config_url),
    )
    return render(request, "wellbeing/two_factor.html", context)


def _verify(request: HttpRequest, staff: StaffMember) -> HttpResponseBase:
    if request.method == "POST":
        device = _check_code(request, staff)
        if device is not None:
            otp_login(request, device)
            record_two_factor_sign_in(AuditContext.from_request(request, staff), staff, device)
            return redirect(_next_url(request))
        messages.error(request, "That code is not valid.")
    context = {"verify": True, "next": _next_url(request), "form": TokenForm()}
    return render(request, "wellbeing/two_factor.html", context)


@require_POST
@staff_required()
def two_factor_backup_codes(request: HttpRequest, staff: StaffMember) -> HttpResponseBase:
    """New backup codes (the old ones stop working), shown on this page once."""
    try:
        codes = generate_backup_codes(AuditContext.from_request(request, staff), staff.user)
    except TwoFactorRefused as exc:
        messages.error(request, str(exc))
        return redirect("two_factor")
    context = {"codes": codes, "next": reverse("two_factor")}
    return render(request, "wellbeing/two_factor_codes.html", context)


@require_POST
@staff_required()
def two_factor_disable(request: HttpRequest, staff: StaffMember) -> HttpResponseBase:
    """Turn off one's own two-factor, confirmed with a current code; not while required."""
    if _check_code(request, staff) is None:
        messages.error(request, "That code is not valid; two-factor sign-in stays on.")
        return redirect("two_factor")
    try:
        ctx = AuditContext.from_request(request, staff)
        disable_two_factor(ctx, staff, required=two_factor_status(staff).required)
    except TwoFactorRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Two-factor sign-in is off for your account.")
    return redirect("two_factor")


@staff_required(Role.ADMIN)
def two_factor_policy(request: HttpRequest, staff: StaffMember) -> HttpResponseBase:
    """Which roles must use two-factor, the grace period, and where each member stands."""
    school = staff.organization
    initial = {"roles": school.two_factor_roles, "grace_days": school.two_factor_grace_days}
    form = TwoFactorPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        update_two_factor_policy(
            AuditContext.from_request(request, staff),
            roles=form.cleaned_data["roles"],
            grace_days=form.cleaned_data["grace_days"],
        )
        messages.success(request, "The two-factor policy is saved.")
        return redirect("two_factor_policy")
    members = StaffMember.objects.filter(organization=school).active().select_related("user")
    rows = [(member, two_factor_status(member)) for member in members.order_by("user__username")]
    return render(request, "wellbeing/two_factor_policy.html", {"form": form, "rows": rows})


@require_POST
@staff_required(Role.ADMIN)
def staff_two_factor_reset(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponseBase:
    """Remove a member's authenticator and backup codes (they lost their device)."""
    member = get_object_or_404(StaffMember.objects.visible_to(request.user), pk=pk)
    reset_member_two_factor(AuditContext.from_request(request, staff), member)
    messages.success(request, f"Two-factor sign-in of {member.user.get_username()} was reset.")
    return redirect("two_factor_policy")
