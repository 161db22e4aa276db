"""A counselor signs in through the school's identity provider in a real browser.

The provider is tests/wellbeing/oidc_issuer.py on 127.0.0.1: Chromium follows our redirect to
its authorization endpoint and its redirect back; the server exchanges the code and checks the
ID token over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.wellbeing.oidc_issuer import LocalIssuer
from wellbeing.models import AuditEvent, StaffMember

pytestmark = pytest.mark.browser


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
