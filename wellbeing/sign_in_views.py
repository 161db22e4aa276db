"""Sign-in pages: password sign-in (refused where a school switched passwords off), sign-in
through the school's identity provider, and the admin's page that configures that provider.

Thin: parse, call wellbeing.identity_providers or wellbeing.oidc_sign_in, say what happened.
The "Sign in with …" buttons are links, not forms: a form whose answer redirects to another
site would break the Content-Security-Policy's ``form-action 'self'``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from wellbeing.actions import AuditContext, record_audit
from wellbeing.identity_provider_forms import FindSchoolForm, IdentityProviderForm
from wellbeing.identity_providers import (
    IdentityProviderRefused,
    configure_identity_provider,
    password_sign_in_refusal,
    provider_for_email,
    set_staff_passwords,
)
from wellbeing.models import IdentityProvider, Role, StaffMember, staff_of
from wellbeing.oidc_sign_in import (
    NEXT_KEY,
    SignInRefused,
    callback_url,
    finish_sign_in,
    signed_in_issuer,
    start_sign_in,
)
from wellbeing.web_access import staff_required

BUTTONS_SHOWN_UP_TO = 5  # more schools than this: a list to choose from


class StaffLoginView(LoginView):
    """Django's password sign-in, plus the schools' "Sign in with …" buttons; a staff member
    whose school switched passwords off is refused (after a correct password) and pointed to
    the button."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        return {**context, **_provider_choices(self.request, context.get("next", ""))}

    def form_valid(self, form: Any) -> HttpResponse:
        staff = staff_of(form.get_user())
        refusal = password_sign_in_refusal(staff.organization) if staff else None
        if staff is None or refusal is None:
            return super().form_valid(form)
        ctx = AuditContext.from_request(self.request, staff)
        record_audit(ctx, "sign_in.password_refused", target=staff)
        form.add_error(None, refusal)
        return self.form_invalid(form)


def _provider_choices(request: HttpRequest, next_url: str) -> dict[str, Any]:
    providers = list(IdentityProvider.objects.enabled().order_by("organization__name"))
    chosen = request.GET.get("school", "")
    if chosen:
        providers = [p for p in providers if p.organization.slug == chosen] or providers
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    buttons = [
        (p, reverse("oidc_start", kwargs={"slug": p.organization.slug}) + query) for p in providers
    ]
    return {
        "idp_buttons": buttons if len(buttons) <= BUTTONS_SHOWN_UP_TO else [],
        "idp_schools": providers if len(buttons) > BUTTONS_SHOWN_UP_TO else [],
        "idp_find_form": FindSchoolForm() if any(p.email_domains for p in providers) else None,
    }


def _safe_next(request: HttpRequest, candidate: str) -> str:
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else reverse(settings.LOGIN_REDIRECT_URL)


def _back_to_login(slug: str) -> HttpResponse:
    return redirect(f"{reverse('login')}?{urlencode({'school': slug})}")


@require_GET
def oidc_start(request: HttpRequest, slug: str) -> HttpResponseBase:
    provider = get_object_or_404(IdentityProvider.objects.enabled(), organization__slug=slug)
    try:
        return start_sign_in(request, provider, _safe_next(request, request.GET.get("next", "")))
    except SignInRefused as refusal:
        messages.error(request, str(refusal))
        return _back_to_login(slug)


@require_GET
def oidc_callback(request: HttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(IdentityProvider.objects.enabled(), organization__slug=slug)
    try:
        finish_sign_in(request, provider)
    except SignInRefused as refusal:
        messages.error(request, str(refusal))
        return _back_to_login(slug)
    return redirect(_safe_next(request, request.session.pop(NEXT_KEY, "")))


@require_POST
def oidc_find(request: HttpRequest) -> HttpResponse:
    """The school whose provider serves the e-mail address's domain: back to the sign-in page
    with that school's button (a same-site redirect, which form-action allows)."""
    form = FindSchoolForm(request.POST)
    provider = provider_for_email(form.cleaned_data["email"]) if form.is_valid() else None
    if provider is None:
        messages.error(request, "No school signs its staff in here with that e-mail domain.")
        return redirect("login")
    return _back_to_login(provider.organization.slug)


admin_only = staff_required(Role.ADMIN)


@admin_only
def identity_provider_settings(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """The school's provider: preset, issuer, client, secret (write-only), e-mail domains."""
    provider = IdentityProvider.objects.filter(organization=staff.organization).first()
    form = IdentityProviderForm.for_provider(provider)
    if request.method == "POST":
        form = IdentityProviderForm(request.POST)
        if form.is_valid():
            ctx = AuditContext.from_request(request, staff)
            try:
                configure_identity_provider(ctx, staff.organization, form.provider_settings())
            except IdentityProviderRefused as exc:
                for name, problem in exc.errors.items():
                    form.add_error(name if name in form.fields else None, problem)
            else:
                messages.success(request, "The school's sign-in settings are saved.")
                return redirect("identity_provider")
    context = _page(request, staff, provider, form)
    return render(request, "wellbeing/identity_provider.html", context)


def _page(
    request: HttpRequest,
    staff: StaffMember,
    provider: IdentityProvider | None,
    form: IdentityProviderForm,
) -> dict[str, Any]:
    return {
        "form": form,
        "provider": provider,
        "redirect_uri": callback_url(request, staff.organization.slug),
        "signed_in_through_it": provider is not None
        and signed_in_issuer(request) == provider.issuer,
    }


@require_POST
@admin_only
def staff_passwords(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    allowed = request.POST.get("allowed") == "on"
    ctx = AuditContext.from_request(request, staff)
    try:
        set_staff_passwords(
            ctx, staff.organization, allowed=allowed, proven_by=signed_in_issuer(request)
        )
    except IdentityProviderRefused as exc:
        messages.error(request, str(exc))
    else:
        state = "allowed" if allowed else "switched off"
        messages.success(request, f"Staff passwords are {state}.")
    return redirect("identity_provider")
