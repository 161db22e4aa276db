"""Staff sign-in through the school's OpenID Connect provider (Authlib does the protocol).

The authorization code flow with PKCE, state and nonce: ``start_sign_in`` sends the browser to
the provider; ``finish_sign_in`` exchanges the code, has Authlib verify the ID token (signature
from the provider's JWKS, ``iss`` equal to the configured issuer, ``aud`` containing our client
ID, ``azp``, ``exp`` and ``iat`` with a minute's leeway, the ``nonce`` of this sign-in) and
signs in the one EXISTING staff member of that school whose e-mail address the provider
reports as verified. Nobody is created; every sign-in and every refusal is audited.

Two-factor: an IdP sign-in counts as the school's second factor only when the ID token's
``amr`` claim (RFC 8176) contains ``"mfa"``; ``idp_verified_mfa`` tells the two-factor
enforcement so. Otherwise the member's own authenticator code is still asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from joserfc.errors import JoseError

from wellbeing.actions import AuditContext, record_audit
from wellbeing.identity_providers import SecretUnavailable, client_secret
from wellbeing.models import IdentityProvider, IdentityProviderKind, StaffMember

SESSION_KEY = "wellbeing_idp_sign_in"
NEXT_KEY = "wellbeing_idp_next"
LEEWAY_SECONDS = 60
SCOPE = "openid email profile"
MFA_METHOD = "mfa"  # RFC 8176: multiple-factor authentication


@dataclass
class SignInRefused(Exception):
    """Why nobody was signed in: ``reason`` (a code for the audit) and a message for the page."""

    reason: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def _fetch_json(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=settings.OIDC_HTTP_TIMEOUT)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def discover(provider: IdentityProvider) -> dict[str, Any]:
    """The provider's discovery document; its ``issuer`` must be the configured one exactly."""
    try:
        metadata = _fetch_json(f"{provider.issuer}/.well-known/openid-configuration")
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(provider, exc) from exc
    if metadata.get("issuer") != provider.issuer:
        raise SignInRefused(
            "issuer_mismatch",
            f"{provider.display_name} names another issuer than the one configured; "
            "ask your school admin to check the sign-in settings.",
            {"published_issuer": str(metadata.get("issuer"))},
        )
    return metadata


def _unreachable(provider: IdentityProvider, exc: Exception) -> SignInRefused:
    return SignInRefused(
        "provider_unreachable",
        f"{provider.display_name} could not be reached; try again in a moment.",
        {"error": type(exc).__name__},
    )


def oidc_client(provider: IdentityProvider, metadata: dict[str, Any]) -> DjangoOAuth2App:
    """An Authlib client for this school (state and nonce kept in the Django session)."""
    name = f"school-{provider.pk}"
    try:
        secret = client_secret(provider)
    except SecretUnavailable as exc:
        raise SignInRefused(
            "secret_unavailable",
            f"Sign-in with {provider.display_name} is not set up completely on this server; "
            "ask your school admin.",
            {"error": str(exc)},
        ) from exc
    return DjangoOAuth2App(
        DjangoIntegration(name),
        name=name,
        client_id=provider.client_id,
        client_secret=secret,
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": settings.OIDC_HTTP_TIMEOUT,
        },
        **metadata,
    )


def callback_url(request: HttpRequest, school_slug: str) -> str:
    """The redirect URI to register with the school's provider (one per school)."""
    path = reverse("oidc_callback", kwargs={"slug": school_slug})
    return request.build_absolute_uri(path)


def start_sign_in(
    request: HttpRequest, provider: IdentityProvider, next_url: str
) -> HttpResponseRedirect:
    """Send the browser to the provider; SignInRefused (audited) when that cannot start."""
    try:
        client = oidc_client(provider, discover(provider))
    except SignInRefused as refusal:
        _audit_refusal(request, provider, refusal, email="")
        raise
    request.session[NEXT_KEY] = next_url
    response: HttpResponseRedirect = client.authorize_redirect(
        request, callback_url(request, provider.organization.slug)
    )
    return response


def finish_sign_in(request: HttpRequest, provider: IdentityProvider) -> StaffMember:
    """Verify the provider's answer and sign the matching staff member in; audited either way."""
    email = ""
    try:
        client = oidc_client(provider, discover(provider))
        token, claims = _verified_token(request, client, provider)
        email, verified = _email_of(client, token, claims, provider)
        staff = _matching_staff(provider, email, verified)
    except SignInRefused as refusal:
        _audit_refusal(request, provider, refusal, email=email)
        raise
    mfa = MFA_METHOD in (claims.get("amr") or [])
    login(request, staff.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = {"issuer": provider.issuer, "mfa": mfa}
    ctx = AuditContext.from_request(request, staff)
    record_audit(ctx, "sign_in.oidc", target=staff, issuer=provider.issuer, email=email, mfa=mfa)
    return staff


def _verified_token(
    request: HttpRequest, client: DjangoOAuth2App, provider: IdentityProvider
) -> tuple[dict[str, Any], dict[str, Any]]:
    if request.GET.get("error"):
        description = request.GET.get("error_description") or request.GET["error"]
        raise SignInRefused(
            "provider_error",
            f"{provider.display_name} did not sign you in: {description[:200]}",
            {"error": request.GET["error"][:100]},
        )
    options = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
    }
    try:
        token = client.authorize_access_token(
            request, claims_options=options, leeway=LEEWAY_SECONDS
        )
    except MismatchingStateError as exc:
        raise SignInRefused(
            "state_mismatch",
            "This sign-in has expired or was already used; start it again.",
        ) from exc
    except (OAuthError, JoseError) as exc:
        raise _invalid_answer(provider, exc) from exc
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(provider, exc) from exc
    claims = token.get("userinfo")
    if not claims:
        raise _invalid_answer(provider, ValueError("no ID token in the token response"))
    return token, dict(claims)


def _invalid_answer(provider: IdentityProvider, exc: Exception) -> SignInRefused:
    return SignInRefused(
        "token_invalid",
        f"The answer from {provider.display_name} could not be verified, so nobody was signed "
        "in. If this keeps happening, ask your school admin to check the sign-in settings.",
        {"error": str(exc)[:300]},
    )


def _email_of(
    client: DjangoOAuth2App,
    token: dict[str, Any],
    claims: dict[str, Any],
    provider: IdentityProvider,
) -> tuple[str, bool]:
    """The e-mail address and whether the provider says it is verified (the ID token's claims,
    else its UserInfo for the same subject)."""
    source = claims
    if not claims.get("email"):
        try:
            source = dict(client.userinfo(token=token))
        except (OAuthError, requests.RequestException, ValueError) as exc:
            raise _unreachable(provider, exc) from exc
        if source.get("sub") != claims.get("sub"):
            raise _invalid_answer(provider, ValueError("UserInfo is about another subject"))
    email = str(source.get("email") or "").strip().lower()
    return email, _is_verified(source, provider)


def _is_verified(claims: dict[str, Any], provider: IdentityProvider) -> bool:
    # Only a JSON true counts. Entra never sends email_verified; its equivalent is the optional
    # claim xms_edov (the e-mail's domain is verified by the tenant), which the school adds.
    if claims.get("email_verified") is True:
        return True
    return provider.kind == IdentityProviderKind.ENTRA and claims.get("xms_edov") is True


def _matching_staff(provider: IdentityProvider, email: str, verified: bool) -> StaffMember:
    school = provider.organization.name
    if not email:
        raise SignInRefused(
            "no_email", f"{provider.display_name} did not tell us your e-mail address."
        )
    if not verified:
        raise SignInRefused(
            "email_unverified",
            f"{provider.display_name} does not confirm that {email} is verified, so it cannot "
            f"be matched to a staff account of {school}. Ask your school's IT team.",
        )
    users = list(
        User.objects.filter(email__iexact=email, staff__organization=provider.organization)[:2]
    )
    if len(users) != 1:
        raise SignInRefused(
            "unknown_email" if not users else "ambiguous_email",
            f"{school} has no single staff account with the e-mail address {email}. Signing in "
            f"with {provider.display_name} never creates accounts: ask your school admin.",
        )
    if not users[0].is_active:
        raise SignInRefused(
            "staff_deactivated", f"The staff account {email} of {school} is deactivated."
        )
    return StaffMember.objects.select_related("organization", "user").get(user=users[0])


def _audit_refusal(
    request: HttpRequest, provider: IdentityProvider, refusal: SignInRefused, email: str
) -> None:
    ctx = AuditContext(
        organization=provider.organization,
        actor_label=f"{email or 'unknown'} (identity provider)",
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )
    detail: dict[str, Any] = {"reason": refusal.reason, "issuer": provider.issuer, "email": email}
    record_audit(ctx, "sign_in.oidc_refused", target=provider, **detail, **refusal.detail)


def signed_in_issuer(request: HttpRequest) -> str | None:
    """The issuer this session signed in through, or None for a password sign-in."""
    state = request.session.get(SESSION_KEY) or {}
    issuer: str | None = state.get("issuer")
    return issuer


def idp_verified_mfa(request: HttpRequest) -> bool:
    """Whether this session's IdP sign-in was multi-factor (``amr`` contained ``mfa``)."""
    return session_idp_mfa(request.session)


def session_idp_mfa(session: SessionBase) -> bool:
    """``idp_verified_mfa`` of a session read without an HTTP request (a WebSocket's scope)."""
    state = session.get(SESSION_KEY) or {}
    return state.get("mfa") is True
