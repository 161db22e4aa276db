"""Staff sign-in through the school's OpenID Connect provider, against a real provider.

The provider (tests/wellbeing/oidc_issuer.py) listens on 127.0.0.1: the server fetches its
discovery document, JWKS, token and UserInfo over HTTP, and the test follows its authorization
redirect over HTTP too, as a browser would.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import make_organization, make_staff
from tests.wellbeing.oidc_issuer import LocalIssuer, configure_for, running_issuer
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.identity_providers import IdentityProviderRefused, set_staff_passwords
from wellbeing.models import AuditEvent, IdentityProvider, Organization, Role, StaffMember
from wellbeing.two_factor import two_factor_status

PASSWORD = "pw-correct-horse"  # tests/factories.make_staff


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with running_issuer() as provider:
        provider.user = {
            "sub": "idp-user-1",
            "email": "counselor@example.org",
            "email_verified": True,
            "name": "Casey Counselor",
        }
        yield provider


@pytest.fixture
def school_idp(school: Organization, issuer: LocalIssuer) -> IdentityProvider:
    return configure_for(school, issuer)


def sign_in_through_idp(client: Client, school: Organization, next_url: str = "") -> Any:
    """Start at our site, follow the provider's redirect over HTTP, come back with its answer."""
    query = f"?next={next_url}" if next_url else ""
    start = client.get(reverse("oidc_start", kwargs={"slug": school.slug}) + query)
    assert start.status_code == 302, start
    answer = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def signed_in_user_id(client: Client) -> str | None:
    value: str | None = client.session.get(SESSION_KEY)
    return value


def refusals(school: Organization) -> list[dict[str, Any]]:
    events = AuditEvent.objects.filter(organization=school, action="sign_in.oidc_refused")
    return [event.detail for event in events]


def page_after(client: Client, response: Any) -> str:
    assert response.status_code == 302
    return html.unescape(client.get(response["Location"]).content.decode())


def test_existing_counselor_signs_in_through_the_school_provider(
    counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given a counselor whose school signs staff in through the test provider
    # when the counselor signs in there
    response = sign_in_through_idp(client, counselor.organization)
    # then they land on the dashboard, signed in as themselves
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")
    assert signed_in_user_id(client) == str(counselor.user.pk)
    # and the server itself talked to the provider: discovery, token, keys
    assert {"/.well-known/openid-configuration", "/token", "/jwks"} <= set(issuer.requests_seen)
    # and the sign-in is audited, naming the provider and the address
    event = AuditEvent.objects.get(action="sign_in.oidc")
    assert event.actor == counselor.user and event.organization == counselor.organization
    assert event.detail == {"issuer": issuer.url, "email": "counselor@example.org", "mfa": False}


def test_sign_in_returns_to_the_page_asked_for(
    counselor: StaffMember, school_idp: IdentityProvider
) -> None:
    # when the sign-in started from a protected page
    response = sign_in_through_idp(Client(), counselor.organization, next_url="/alerts/")
    # then it ends there; an address on another site is never followed
    assert response["Location"] == "/alerts/"
    response = sign_in_through_idp(
        Client(), counselor.organization, next_url="https://evil.example/"
    )
    assert response["Location"] == reverse("dashboard:home")


@pytest.mark.parametrize("verified", [False, "true", None], ids=["false", "string", "missing"])
def test_an_unverified_email_is_refused(
    verified: Any, counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given the provider does not say (as JSON true) that the address is verified
    issuer.user["email_verified"] = verified
    if verified is None:
        del issuer.user["email_verified"]
    # when the counselor signs in there
    response = sign_in_through_idp(client, counselor.organization)
    # then nobody is signed in, the page says why, and the refusal is audited
    assert signed_in_user_id(client) is None
    assert "does not confirm that counselor@example.org is verified" in page_after(client, response)
    assert refusals(counselor.organization)[0]["reason"] == "email_unverified"


@pytest.mark.parametrize(
    "email", ["stranger@example.org", "other_admin@example.org"], ids=["unknown", "other-school"]
)
def test_an_email_of_no_staff_member_of_this_school_is_refused(
    email: str,
    counselor: StaffMember,
    other_admin: StaffMember,
    school_idp: IdentityProvider,
    issuer: LocalIssuer,
) -> None:
    client = Client()
    # given the provider vouches for an address no staff member of this school has
    issuer.user["email"] = email
    # when that person signs in
    response = sign_in_through_idp(client, counselor.organization)
    # then no account is made or used, and the page says the provider never creates one
    assert signed_in_user_id(client) is None
    page = page_after(client, response)
    assert f"has no single staff account with the e-mail address {email}" in page
    assert "never creates accounts" in page
    assert StaffMember.objects.count() == 2
    assert refusals(counselor.organization)[0] == {
        "reason": "unknown_email",
        "issuer": issuer.url,
        "email": email,
    }


def test_a_deactivated_member_is_refused(
    counselor: StaffMember, school_idp: IdentityProvider
) -> None:
    client = Client()
    # given the counselor was deactivated
    counselor.user.is_active = False
    counselor.user.save()
    # when they sign in through the provider
    response = sign_in_through_idp(client, counselor.organization)
    # then they are refused
    assert signed_in_user_id(client) is None
    assert "is deactivated" in page_after(client, response)


def _expired() -> dict[str, Any]:
    long_ago = int(time.time()) - 3600
    return {"iat": long_ago - 300, "exp": long_ago}


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "http://127.0.0.1:1/another-issuer"},
        {"aud": "another-client"},
        {"aud": "another-client", "azp": "wellbeing-test-client"},
        {"nonce": "a-nonce-from-another-sign-in"},
        _expired(),
        "unpublished-key",
    ],
    ids=["issuer", "audience", "audience-with-azp", "nonce", "expired", "signature"],
)
def test_an_id_token_that_does_not_verify_is_refused(
    changes: Any, counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given the provider answers with a wrong ID token
    if changes == "unpublished-key":
        issuer.sign_with_unpublished_key = True
    else:
        issuer.id_token_changes = changes
    # when the counselor signs in
    response = sign_in_through_idp(client, counselor.organization)
    # then nobody is signed in and the refusal is audited with its reason
    assert signed_in_user_id(client) is None
    assert "could not be verified, so nobody was signed in" in page_after(client, response)
    [refusal] = refusals(counselor.organization)
    assert refusal["reason"] == "token_invalid" and refusal["error"]
    assert not AuditEvent.objects.filter(action="sign_in.oidc").exists()


def test_a_discovery_document_naming_another_issuer_is_refused(
    counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given the school's configured issuer differs from what the provider publishes
    IdentityProvider.objects.filter(pk=school_idp.pk).update(issuer=issuer.url + "/")
    # when the counselor starts signing in
    response = client.get(reverse("oidc_start", kwargs={"slug": counselor.organization.slug}))
    # then they never leave for the provider, and the page says what is wrong
    assert "names another issuer than the one configured" in page_after(client, response)
    assert refusals(counselor.organization)[0]["reason"] == "issuer_mismatch"


def test_an_answer_cannot_be_replayed(counselor: StaffMember, school_idp: IdentityProvider) -> None:
    client = Client()
    start = client.get(reverse("oidc_start", kwargs={"slug": counselor.organization.slug}))
    answer = requests.get(start["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    assert client.get(f"{back.path}?{back.query}")["Location"] == reverse("dashboard:home")
    # when the same answer comes again, to another browser
    other = Client()
    response = other.get(f"{back.path}?{back.query}")
    # then it is refused: its state belongs to no sign-in of that browser
    assert signed_in_user_id(other) is None
    assert "has expired or was already used" in page_after(other, response)


def test_the_email_may_come_from_userinfo(
    counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given an ID token without the address (the provider's UserInfo has it)
    issuer.email_in_id_token = False
    # when the counselor signs in
    sign_in_through_idp(client, counselor.organization)
    # then UserInfo was asked, and it matched the counselor
    assert "/userinfo" in issuer.requests_seen
    assert signed_in_user_id(client) == str(counselor.user.pk)


def test_a_multi_factor_sign_in_at_the_provider_is_recorded(
    counselor: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    client = Client()
    # given the provider reports multi-factor authentication (RFC 8176 amr "mfa")
    issuer.user["amr"] = ["pwd", "mfa"]
    # when the counselor signs in
    sign_in_through_idp(client, counselor.organization)
    # then the session and the audit trail say the provider did two-factor
    assert client.session["wellbeing_idp_sign_in"] == {"issuer": issuer.url, "mfa": True}
    assert AuditEvent.objects.get(action="sign_in.oidc").detail["mfa"] is True


@pytest.mark.parametrize("amr", [["pwd", "mfa"], ["pwd"], None], ids=["mfa", "pwd", "none"])
def test_only_a_multi_factor_provider_sign_in_stands_for_the_school_two_factor(
    amr: list[str] | None,
    counselor: StaffMember,
    school_idp: IdentityProvider,
    issuer: LocalIssuer,
) -> None:
    client = Client()
    # given a counselor whose school requires two-factor (no grace) and who has no authenticator
    update_two_factor_policy(
        AuditContext.system(counselor.organization), roles=[Role.COUNSELOR], grace_days=0
    )
    counselor.refresh_from_db()
    assert two_factor_status(counselor).overdue
    if amr is not None:
        issuer.user["amr"] = amr
    # when they sign in through the school's provider
    sign_in_through_idp(client, counselor.organization)
    home = client.get(reverse("dashboard:home"))
    # then only a provider that says it used more than one factor lets them in; otherwise the
    # school's own two-factor setup comes first
    if amr and "mfa" in amr:
        assert home.status_code == 200
    else:
        assert home.status_code == 302 and home["Location"].startswith(reverse("two_factor"))


def test_a_disabled_provider_signs_nobody_in(
    counselor: StaffMember, school_idp: IdentityProvider
) -> None:
    IdentityProvider.objects.filter(pk=school_idp.pk).update(enabled=False)
    url = reverse("oidc_start", kwargs={"slug": counselor.organization.slug})
    assert Client().get(url).status_code == 404


def with_second_factor(client: Client, staff: StaffMember) -> Client:
    """The session also verified an authenticator (django-otp), so the school's two-factor
    requirement for admins does not stand between these tests and the admin pages."""
    device = TOTPDevice.objects.create(user=staff.user, name="phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _password_sign_in(client: Client, username: str) -> Any:
    data = {"username": username, "password": PASSWORD, "otp_token": ""}
    return client.post(reverse("login"), data, REMOTE_ADDR="10.9.8.7")


def test_a_school_switches_staff_passwords_off(
    admin: StaffMember,
    counselor: StaffMember,
    other_admin: StaffMember,
    school_idp: IdentityProvider,
    issuer: LocalIssuer,
) -> None:
    # given the school's admin signed in through the provider (proof it works for them)
    issuer.user["email"] = "admin@example.org"
    admin_client = Client()
    sign_in_through_idp(admin_client, admin.organization)
    with_second_factor(admin_client, admin)
    # when they switch staff passwords off
    admin_client.post(reverse("staff_passwords"))
    assert not IdentityProvider.objects.get(pk=school_idp.pk).staff_passwords_allowed
    # then the counselor's right password is refused, pointing to the school's button
    response = _password_sign_in(Client(), counselor.user.username)
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "Northside School signs its staff in through its own accounts" in page
    assert 'use "Sign in with Northside Accounts" below' in page
    assert 'href="/accounts/oidc/' in page
    assert AuditEvent.objects.filter(action="sign_in.password_refused").count() == 1
    # and another school's staff still sign in with their password
    assert _password_sign_in(Client(), other_admin.user.username).status_code == 302
    # and the counselor still signs in through the provider
    issuer.user["email"] = "counselor@example.org"
    client = Client()
    sign_in_through_idp(client, counselor.organization)
    assert signed_in_user_id(client) == str(counselor.user.pk)


def test_passwords_stay_on_until_the_admin_proved_the_provider(
    admin: StaffMember, school_idp: IdentityProvider
) -> None:
    # given an admin signed in with a password (and their authenticator)
    client = Client()
    client.force_login(admin.user)
    with_second_factor(client, admin)
    # when they try to switch passwords off
    page = client.post(reverse("staff_passwords"), follow=True).content.decode()
    # then it is refused until they sign in with the provider themselves
    assert "Sign in with Northside Accounts yourself first" in page
    assert IdentityProvider.objects.get(pk=school_idp.pk).staff_passwords_allowed
    with pytest.raises(IdentityProviderRefused):
        set_staff_passwords(
            AuditContext.system(admin.organization),
            admin.organization,
            allowed=False,
            proven_by="https://another-issuer.example",
        )


def test_disabling_the_provider_gives_staff_their_passwords_back(
    admin: StaffMember, school_idp: IdentityProvider, issuer: LocalIssuer
) -> None:
    IdentityProvider.objects.filter(pk=school_idp.pk).update(staff_passwords_allowed=False)
    # when the provider is disabled
    configure_for(admin.organization, issuer, enabled=False)
    # then passwords work again: no school is left without a way in
    assert _password_sign_in(Client(), admin.user.username).status_code == 302


def test_staff_find_their_school_by_email_domain(school: Organization, issuer: LocalIssuer) -> None:
    # given two schools with providers, one serving northside.sch.uk
    configure_for(school, issuer, email_domains=("northside.sch.uk",))
    other = make_organization("Southside School")
    configure_for(other, issuer, display_name="Southside Accounts")
    make_staff(other, Role.ADMIN)
    client = Client()
    # when a member types their work address
    response = client.post(reverse("oidc_find"), {"email": "Casey@Northside.sch.uk"})
    # then the sign-in page shows their school's button only
    page = page_after(client, response)
    assert "Sign in with Northside Accounts" in page
    assert "Sign in with Southside Accounts" not in page
    # and an address of no school's domain gets a clear answer
    response = client.post(reverse("oidc_find"), {"email": "casey@gmail.com"})
    assert "No school signs its staff in here with that e-mail domain" in page_after(
        client, response
    )
