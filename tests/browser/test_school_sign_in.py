"""A counselor signs in through the school's identity provider in a real browser.

The provider is tests/wellbeing/oidc_issuer.py on 127.0.0.1: Chromium follows our redirect to
its authorization endpoint and its redirect back; the server exchanges the code and checks the
ID token over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.factories import make_staff
from tests.wellbeing.oidc_issuer import LocalIssuer, configure_for, running_issuer
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.models import AuditEvent, Organization, Role, StaffMember

pytestmark = pytest.mark.browser


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with running_issuer() as provider:
        yield provider


@pytest.fixture
def dana(school: Organization, issuer: LocalIssuer, settings: Any) -> StaffMember:
    """A counselor of a school that signs staff in through the test provider (plain http)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    configure_for(school, issuer)
    member = make_staff(school, Role.COUNSELOR, "dana")
    update_two_factor_policy(AuditContext.system(school), roles=[Role.COUNSELOR], grace_days=0)
    # The school requires two-factor of counselors; the provider says it used two factors
    # (amr "mfa"), which stands for it (docs/sign-in.md, "Two-factor").
    issuer.user = {
        "sub": "dana-at-idp",
        "email": "dana@example.org",
        "email_verified": True,
        "amr": ["pwd", "mfa"],
    }
    return member


def test_counselor_signs_in_through_the_school_provider(
    live_server: Any, page: Any, dana: StaffMember, issuer: LocalIssuer
) -> None:
    # given the sign-in page offers the school's provider
    page.goto(f"{live_server.url}/accounts/login/")
    button = page.get_by_role("link", name="Sign in with Northside Accounts")
    screenshot(page, "sso-01-sign-in-page")
    # when the counselor uses it
    button.click()
    page.wait_for_load_state("load")
    # then the browser went to the provider and came back to the counselor's first screen
    assert "/authorize" in issuer.requests_seen and "/token" in issuer.requests_seen
    assert page.url == f"{live_server.url}/"
    assert page.get_by_role("heading", name="My caseload").count() == 1
    assert "dana · Counselor · Northside School" in page.locator("header .who").inner_text()
    event = AuditEvent.objects.get(action="sign_in.oidc")
    assert event.actor == dana.user
    screenshot(page, "sso-02-signed-in")


def test_an_address_of_no_staff_member_is_refused_in_the_browser(
    live_server: Any, page: Any, dana: StaffMember, issuer: LocalIssuer
) -> None:
    # given the provider vouches for someone the school does not employ
    issuer.user["email"] = "visitor@example.org"
    # when they try the school's button
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Northside Accounts").click()
    page.wait_for_load_state("load")
    # then they are back on the sign-in page with the reason, signed in as nobody
    assert "/accounts/login/" in page.url
    message = page.locator("p.message").inner_text()
    assert "no single staff account with the e-mail address visitor@example.org" in message
    assert page.locator("header .who").count() == 0
    screenshot(page, "sso-03-refused")
