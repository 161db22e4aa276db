"""A school admin configures the school's identity provider: presets, a secret never shown back."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import login
from wellbeing.actions import AuditContext
from wellbeing.identity_providers import (
    IdentityProviderRefused,
    ProviderSettings,
    SecretUnavailable,
    client_secret,
    configure_identity_provider,
)
from wellbeing.models import AuditEvent, IdentityProvider, Organization, StaffMember

SECRET = "s3cret-value-from-the-provider"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def admin_client(admin: StaffMember) -> Client:
    """The admin, signed in with their authenticator verified (the school requires it)."""
    client = login(admin)
    device = TOTPDevice.objects.create(user=admin.user, name="phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def form_data(**changes: str) -> dict[str, str]:
    return {
        "kind": "entra",
        "tenant": TENANT,
        "issuer": "",
        "client_id": "client-123",
        "client_secret": SECRET,
        "client_secret_env": "",
        "email_domains": "northside.sch.uk, staff.northside.sch.uk",
        "display_name": "",
        "enabled": "on",
        **changes,
    }


def test_an_admin_sets_up_microsoft_entra_and_the_secret_is_never_shown(
    admin: StaffMember,
) -> None:
    client = admin_client(admin)
    # when the admin saves the Entra preset with a tenant ID and a secret
    response = client.post(reverse("identity_provider"), form_data())
    assert response.status_code == 302
    # then the issuer is the tenant's, the secret is encrypted at rest and readable by the server
    provider = IdentityProvider.objects.get(organization=admin.organization)
    assert provider.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert provider.display_name == "Microsoft (Northside School)"
    assert provider.email_domains == ["northside.sch.uk", "staff.northside.sch.uk"]
    assert SECRET not in provider.client_secret_encrypted
    assert client_secret(provider) == SECRET
    # and neither the page nor the audit trail shows it
    page = client.get(reverse("identity_provider")).content.decode()
    assert SECRET not in page and provider.client_secret_encrypted not in page
    assert "stored encrypted (not shown)" in page
    assert f"http://testserver/accounts/oidc/{admin.organization.slug}/callback/" in page
    event = AuditEvent.objects.get(action="identity_provider.configure")
    assert SECRET not in str(event.detail) and event.detail["secret"] == "stored"
    # when the admin saves again without typing the secret, the stored one is kept
    client.post(reverse("identity_provider"), form_data(client_secret="", display_name="Office"))
    provider.refresh_from_db()
    assert client_secret(provider) == SECRET and provider.display_name == "Office"


def test_google_preset_and_a_secret_from_an_environment_variable(
    school: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the secret lives in the server's environment
    given = ProviderSettings(
        kind="google", client_id="abc.apps.googleusercontent.com", client_secret_env="NORTH_OIDC"
    )
    provider = configure_identity_provider(AuditContext.system(school), school, given)
    # then Google's issuer is used, nothing secret is stored, and it is read at sign-in
    assert provider.issuer == "https://accounts.google.com"
    assert provider.client_secret_encrypted == ""
    with pytest.raises(SecretUnavailable, match=r"\$NORTH_OIDC is not set"):
        client_secret(provider)
    monkeypatch.setitem(os.environ, "NORTH_OIDC", "from-env")
    assert client_secret(provider) == "from-env"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tenant": "northside.onmicrosoft.com"}, "tenant", "directory (tenant) ID, a GUID"),
        ({"kind": "generic", "issuer": "http://idp.example.org"}, "issuer", "must be an https://"),
        ({"client_secret": ""}, "client_secret", "Give the client secret"),
        ({"client_secret_env": "lower-case"}, "client_secret_env", "environment variable name"),
        ({"client_secret_env": "SECRET_VAR"}, "client_secret", "not both"),
        ({"email_domains": "not a domain"}, "email_domains", "Not an e-mail domain"),
    ],
    ids=["entra-tenant", "http-issuer", "no-secret", "env-name", "both-secrets", "domain"],
)
def test_a_configuration_that_cannot_work_is_refused(
    changes: dict[str, str], field: str, message: str, school: Organization
) -> None:
    data = form_data(**changes)
    given = ProviderSettings(
        kind=data["kind"],
        client_id=data["client_id"],
        issuer=data["issuer"],
        tenant=data["tenant"],
        client_secret=data["client_secret"] or None,
        client_secret_env=data["client_secret_env"],
        email_domains=tuple(d.strip() for d in data["email_domains"].split(",")),
    )
    with pytest.raises(IdentityProviderRefused) as refused:
        configure_identity_provider(AuditContext.system(school), school, given)
    assert message in refused.value.errors[field]
    assert not IdentityProvider.objects.exists()


def test_a_changed_key_asks_for_the_secret_again(school: Organization, settings: Any) -> None:
    given = ProviderSettings(kind="google", client_id="abc", client_secret=SECRET)
    provider = configure_identity_provider(AuditContext.system(school), school, given)
    # when the server's secret key changes
    settings.SECRET_KEY = "another-secret-key-for-this-test-0123456789abcdef"
    # then the secret cannot be read, and the error says what to do
    with pytest.raises(SecretUnavailable, match="enter it again"):
        client_secret(provider)


@pytest.mark.parametrize("persona", ["counselor", "teacher", "other_admin"])
def test_only_the_school_admin_configures_its_provider(
    persona: str, request: pytest.FixtureRequest, admin: StaffMember
) -> None:
    member: StaffMember = request.getfixturevalue(persona)
    client = admin_client(member)
    response = client.post(reverse("identity_provider"), form_data())
    if member.role == "admin":  # another school's admin configures their own school only
        assert IdentityProvider.objects.get().organization == member.organization
    else:
        assert response.status_code == 403
        assert not IdentityProvider.objects.exists()


def test_the_staff_page_leads_the_admin_to_the_sign_in_settings(admin: StaffMember) -> None:
    page = admin_client(admin).get(reverse("staff_list")).content.decode()
    assert f'href="{reverse("identity_provider")}"' in page
