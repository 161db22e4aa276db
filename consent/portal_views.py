"""Pages of the family portal (consent.portal): asking for a sign-in link, signing in with it,
the students the holder may see, their consent, and signing out. Thin: parse, check, call
consent.portal. The data export and erasure request pages are privacy's
(privacy.portal_views), under the same /portal/ prefix and the same portal session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent.actions import ConsentError
from consent.models import ALL_SCOPES, Decision, Scope
from consent.portal import (
    PortalIdentity,
    PortalLinkUnusable,
    PortalPerson,
    PortalRateLimited,
    change_portal_consent,
    check_portal_link_rate,
    consent_overview,
    end_portal_session,
    normalize_email,
    portal_context,
    portal_identity_of,
    portal_link_for_token,
    portal_organization,
    portal_people,
    portal_person,
    sign_in_with_portal_link,
    start_portal_session,
)
from consent.rate_limits import over_limit
from consent.request_views import RATE_WINDOW_SECONDS
from consent.rules import SchoolContext
from consent.tasks import send_portal_link_task
from wellbeing.actions import AuditContext, record_audit
from wellbeing.refusals import NotYours

PortalView = Callable[..., HttpResponseBase]


class PortalSignInForm(forms.Form):
    email = forms.EmailField(label="Your e-mail address")


class PortalConsentForm(forms.Form):
    scope = forms.ChoiceField(choices=[(s, s) for s in ALL_SCOPES])
    decision = forms.ChoiceField(choices=Decision.choices)


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


def portal_required(view: PortalView) -> Callable[..., HttpResponseBase]:
    """Require a live portal session; the view is called as ``view(request, identity, ...)``.
    Without one (or after it expired) the caller is sent to the portal's sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        identity = portal_identity_of(request.session)
        if identity is None:
            return redirect("portal:sign_in")
        return view(request, identity, *args, **kwargs)

    return never_cache(wrapper)


def person_of(request: HttpRequest, identity: PortalIdentity, pk: int) -> PortalPerson:
    """The student ``pk`` as the holder may see them; 404 for anyone else (as for no one)."""
    try:
        return portal_person(identity, pk)
    except NotYours as exc:
        raise Http404("No such student.") from exc


def person_context(request: HttpRequest, person: PortalPerson) -> AuditContext:
    return portal_context(person, _ip(request), _agent(request))


@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. Every address gets the same work here (count the ask, queue the
    task that looks the address up and e-mails the links) and the same page after it."""
    form = PortalSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = normalize_email(form.cleaned_data["email"])
        try:
            check_portal_link_rate(address, _ip(request))
        except PortalRateLimited:
            return render(request, "consent/portal/unusable.html", {"reason": "rate"}, status=429)
        send_portal_link_task.delay(address, _ip(request), _agent(request)[:300])
        context = {"minutes": settings.PORTAL_LINK_EXPIRY_MINUTES}
        return render(request, "consent/portal/link_sent.html", context)
    status = 400 if request.method == "POST" else 200
    return render(request, "consent/portal/sign_in.html", {"form": form}, status=status)


@never_cache
def link(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: a page with one button (so an e-mail scanner that follows links does
    not use it up); the button signs in once."""
    if over_limit(f"portal-open-ip:{_ip(request) or ''}", settings.CONSENT_LINK_RATE_LIMIT,
                  RATE_WINDOW_SECONDS):  # fmt: skip
        return render(request, "consent/portal/unusable.html", {"reason": "rate"}, status=429)
    try:
        if request.method == "POST":
            identity = sign_in_with_portal_link(token, _ip(request), _agent(request))
            start_portal_session(request.session, identity)
            return redirect("portal:home")
        found = portal_link_for_token(token)
    except PortalLinkUnusable as exc:
        context = {"reason": exc.reason, "message": str(exc)}
        return render(request, "consent/portal/unusable.html", context, status=410)
    return render(request, "consent/portal/link.html", {"org": found.organization})


@portal_required
def home(request: HttpRequest, identity: PortalIdentity) -> HttpResponse:
    organization = portal_organization(identity)
    people = portal_people(organization, identity.email)
    ctx = AuditContext(organization, actor_label="family portal", ip_address=_ip(request),
                       user_agent=_agent(request)[:300])  # fmt: skip
    record_audit(ctx, "portal.home", pseudonyms=[p.participant.pseudonym for p in people])
    context = {"org": organization, "people": people, "identity": identity}
    return render(request, "consent/portal/home.html", context)


@portal_required
def person(request: HttpRequest, identity: PortalIdentity, pk: int) -> HttpResponse:
    """One student: the notice, the consent state per scope, the history, the holder's own
    decision per scope with the button to change it, export and erasure."""
    who = person_of(request, identity, pk)
    overview = consent_overview(person_context(request, who), who)
    organization = who.participant.organization
    scopes = [
        {
            "key": scope,
            "label": Scope(scope).label,
            "active": scope in overview.state.active_scopes,
            "reason": overview.state.reasons.get(scope, ""),
            "mine": overview.own_decisions.get(scope, ""),
        }
        for scope in ALL_SCOPES
    ]
    context = {
        "org": organization,
        "person": who,
        "overview": overview,
        "scopes": scopes,
        "rules": SchoolContext.load(organization).rules,
        "identity": identity,
    }
    return render(request, "consent/portal/person.html", context)


@portal_required
@require_POST
def consent_change(request: HttpRequest, identity: PortalIdentity, pk: int) -> HttpResponse:
    who = person_of(request, identity, pk)
    form = PortalConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a kind of processing and to give or withdraw consent.")
        return redirect("portal:person", pk=pk)
    scope, decision = form.cleaned_data["scope"], form.cleaned_data["decision"]
    try:
        written = change_portal_consent(person_context(request, who), who, scope, decision)
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        label = Scope(scope).label
        if not written:
            messages.info(request, f"{label}: your answer was already recorded.")
        elif decision == Decision.GRANT:
            messages.success(request, f"{label}: your consent is recorded.")
        else:
            messages.success(request, f"{label}: withdrawn. Processing stopped at once.")
    return redirect("portal:person", pk=pk)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    end_portal_session(request.session, portal_identity_of(request.session), _ip(request))
    return render(request, "consent/portal/signed_out.html")
