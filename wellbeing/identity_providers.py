"""A school's identity provider for staff sign-in: presets, the client secret, configuration.

Each school may configure one OpenID Connect provider (``IdentityProvider``): Google Workspace,
Microsoft Entra ID (one tenant) or any issuer that publishes a discovery document. The flow
itself is ``wellbeing.oidc_sign_in``. Two rules hold here:

* the client secret is never shown back: it is stored encrypted (Fernet, ``IDP_SECRET_KEY`` or
  a key derived from ``SECRET_KEY``) or named as an environment variable read at sign-in;
* a school switches its staff's local passwords off only with an enabled provider, and only
  while the admin doing it is signed in through that provider (proof that it works, so the
  switch cannot lock the school out).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import IdentityProvider, IdentityProviderKind, Organization

GOOGLE_ISSUER = "https://accounts.google.com"
ENTRA_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class IdentityProviderRefused(Exception):
    """A configuration that cannot work; ``errors`` maps a field ('' for the whole) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SecretUnavailable(Exception):
    """The client secret cannot be read (missing environment variable, or a changed key)."""


@dataclass(frozen=True)
class ProviderSettings:
    """What an admin enters; ``client_secret`` None keeps the stored one."""

    kind: str
    client_id: str
    display_name: str = ""
    issuer: str = ""
    tenant: str = ""
    client_secret: str | None = None
    client_secret_env: str = ""
    email_domains: tuple[str, ...] = ()
    enabled: bool = True


def preset_issuer(kind: str, issuer: str, tenant: str) -> str:
    """The issuer a preset implies: Google's, the Entra tenant's, or the one given."""
    if kind == IdentityProviderKind.GOOGLE:
        return GOOGLE_ISSUER
    if kind == IdentityProviderKind.ENTRA:
        return ENTRA_ISSUER.format(tenant=tenant.lower())
    return issuer.strip().rstrip("/")


def default_display_name(kind: str, organization: Organization) -> str:
    if kind == IdentityProviderKind.GOOGLE:
        return f"Google ({organization.name})"
    if kind == IdentityProviderKind.ENTRA:
        return f"Microsoft ({organization.name})"
    return organization.name


def is_loopback_http(url: str) -> bool:
    """An http:// address on this machine (127.0.0.1, ::1, localhost): tests and trials only."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _issuer_problem(issuer: str) -> str | None:
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        return "The issuer is an https:// address without query or fragment."
    if parts.scheme != "https" and not is_loopback_http(issuer):
        return "The issuer must be an https:// address."
    return None


def _problems(given: ProviderSettings, stored: IdentityProvider | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if given.kind not in IdentityProviderKind.values:
        problems["kind"] = "Choose Google Workspace, Microsoft Entra ID or another provider."
    if given.kind == IdentityProviderKind.ENTRA and not _is_uuid(given.tenant):
        # Entra's tokens name the tenant by its ID, even when discovery used a domain name.
        problems["tenant"] = "Give the directory (tenant) ID, a GUID from the Entra overview."
    issuer_problem = _issuer_problem(preset_issuer(given.kind, given.issuer, given.tenant))
    if issuer_problem:
        problems["issuer"] = issuer_problem
    if not given.client_id.strip():
        problems["client_id"] = "Give the client ID the provider issued for this site."
    problems.update(_secret_problems(given, stored))
    bad = [domain for domain in given.email_domains if not DOMAIN.match(domain)]
    if bad:
        problems["email_domains"] = f"Not an e-mail domain: {', '.join(bad)}."
    return problems


def _secret_problems(given: ProviderSettings, stored: IdentityProvider | None) -> dict[str, str]:
    if given.client_secret_env and not ENV_NAME.match(given.client_secret_env):
        return {"client_secret_env": "An environment variable name: capitals, digits and _."}
    if given.client_secret and given.client_secret_env:
        return {"client_secret": "Give either the secret or its environment variable, not both."}
    has_stored = stored is not None and bool(stored.client_secret_encrypted)
    if not (given.client_secret or given.client_secret_env or has_stored):
        return {"client_secret": "Give the client secret or the environment variable holding it."}
    return {}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def secret_cipher() -> MultiFernet:
    """Fernet keys for client secrets: ``IDP_SECRET_KEY`` (comma-separated, the first encrypts),
    else one derived from ``SECRET_KEY`` (changing that key means entering the secrets again)."""
    raw = [key.strip() for key in settings.IDP_SECRET_KEY.split(",") if key.strip()]
    if not raw:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"wellbeing idp client secrets"
        ).derive(settings.SECRET_KEY.encode())
        raw = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode()) for key in raw])


def client_secret(provider: IdentityProvider) -> str:
    """The client secret, from its environment variable or decrypted; SecretUnavailable if not."""
    if provider.client_secret_env:
        value = os.environ.get(provider.client_secret_env, "")
        if not value:
            raise SecretUnavailable(f"${provider.client_secret_env} is not set on the server.")
        return value
    try:
        return secret_cipher().decrypt(provider.client_secret_encrypted.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnavailable("The stored secret cannot be decrypted; enter it again.") from exc


def configure_identity_provider(
    ctx: AuditContext, organization: Organization, given: ProviderSettings
) -> IdentityProvider:
    """Create or change the school's provider; IdentityProviderRefused says what to fix.

    Audited without the secret (only whether one was stored or which variable holds it).
    """
    stored = IdentityProvider.objects.filter(organization=organization).first()
    problems = _problems(given, stored)
    if problems:
        raise IdentityProviderRefused(problems)
    provider = stored or IdentityProvider(organization=organization)
    _apply(provider, given, organization)
    with transaction.atomic():
        if not provider.enabled:
            provider.staff_passwords_allowed = True  # no provider, no way in without passwords
        provider.save()
        record_audit(ctx, "identity_provider.configure", target=provider, **_described(provider))
    return provider


def _apply(provider: IdentityProvider, given: ProviderSettings, org: Organization) -> None:
    provider.kind = given.kind
    provider.tenant = given.tenant.strip().lower() if given.kind == "entra" else ""
    provider.issuer = preset_issuer(given.kind, given.issuer, provider.tenant)
    provider.client_id = given.client_id.strip()
    provider.display_name = given.display_name.strip() or default_display_name(given.kind, org)
    provider.email_domains = sorted({domain.lower() for domain in given.email_domains})
    provider.enabled = given.enabled
    if given.client_secret_env:
        provider.client_secret_env, provider.client_secret_encrypted = given.client_secret_env, ""
    elif given.client_secret:
        token = secret_cipher().encrypt(given.client_secret.encode()).decode()
        provider.client_secret_env, provider.client_secret_encrypted = "", token


def _described(provider: IdentityProvider) -> dict[str, Any]:
    return {
        "kind": provider.kind,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "secret": f"${provider.client_secret_env}" if provider.client_secret_env else "stored",
        "email_domains": provider.email_domains,
        "enabled": provider.enabled,
        "staff_passwords_allowed": provider.staff_passwords_allowed,
    }


def set_staff_passwords(
    ctx: AuditContext, organization: Organization, *, allowed: bool, proven_by: str | None
) -> IdentityProvider:
    """Allow or switch off local passwords for the school's staff.

    Switching off needs an enabled provider and ``proven_by`` equal to its issuer: the acting
    admin signed in through it in this session (``oidc_sign_in.signed_in_issuer``).
    """
    provider = IdentityProvider.objects.filter(organization=organization).first()
    if not allowed:
        if provider is None or not provider.enabled:
            raise IdentityProviderRefused({"": "Set up and enable the school's sign-in first."})
        if proven_by != provider.issuer:
            raise IdentityProviderRefused(
                {"": f"Sign in with {provider.display_name} yourself first, so we know it works."}
            )
    if provider is None:
        raise IdentityProviderRefused({"": "Staff passwords are on: the school has no provider."})
    with transaction.atomic():
        provider.staff_passwords_allowed = allowed
        provider.save(update_fields=["staff_passwords_allowed", "updated_at"])
        record_audit(ctx, "identity_provider.staff_passwords", target=provider, allowed=allowed)
    return provider


def password_sign_in_refusal(organization: Organization) -> str | None:
    """Why a staff member of ``organization`` may not sign in with a password, or None."""
    provider = IdentityProvider.objects.filter(organization=organization, enabled=True).first()
    if provider is None or provider.staff_passwords_allowed:
        return None
    return (
        f"{organization.name} signs its staff in through its own accounts: use "
        f'"Sign in with {provider.display_name}" below. Passwords are switched off.'
    )


def provider_for_email(email: str) -> IdentityProvider | None:
    """The enabled provider whose school lists the address's domain (None if none or several)."""
    domain = email.strip().lower().rpartition("@")[2]
    found = [p for p in IdentityProvider.objects.enabled() if domain in p.email_domains]
    return found[0] if len(found) == 1 else None
