"""A counselor whose school requires two-factor sets it up in a real browser: the site sends
them to the setup page, they enter the code an authenticator computes from the key shown, keep
their backup codes, and the next sign-in needs a code.

The ``page`` fixture fails the test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.conftest import screenshot, sign_in
from tests.factories import make_staff
from tests.otp_codes import totp_from_secret, totp_now
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.models import AuditEvent, Organization, Role

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


def test_counselor_sets_up_required_two_factor(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    # given a school that has required two-factor of counselors for a month, and a counselor
    # who joined today (no grace period)
    update_two_factor_policy(AuditContext.system(school), roles=[Role.COUNSELOR])
    month_ago = timezone.now() - dt.timedelta(days=30)
    school.two_factor_required_since = {Role.COUNSELOR: month_ago.isoformat()}
    school.save(update_fields=["two_factor_required_since"])
    counselor = make_staff(school, Role.COUNSELOR, "carla")
    # when she signs in with her password
    sign_in(page, live_server.url, "carla", PASSWORD)
    # then she lands on the setup page, which says her school requires it
    assert page.url.startswith(f"{live_server.url}/accounts/two-factor/")
    assert "Your school requires two-factor sign-in for your role" in page.content()
    screenshot(page, "two-factor-1-required")
    # and the rest of the site stays closed
    page.goto(f"{live_server.url}/alerts/")
    assert page.url.startswith(f"{live_server.url}/accounts/two-factor/")
    # when she adds the key to her authenticator and enters the code it computes
    secret = page.locator("#totp-secret").inner_text()
    page.fill("input[name=token]", totp_from_secret(secret))
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_load_state("load")
    # then her ten backup codes are shown once, and she can go on to her caseload
    codes = page.locator("ol.backup-codes li code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "two-factor-2-backup-codes")
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_load_state("load")
    assert page.url.rstrip("/") == f"{live_server.url}/alerts"
    # when she signs out and in again with her password and the authenticator's next code
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    page.fill("input[name=username]", "carla")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp_token]", totp_now(TOTPDevice.objects.get(user=counselor.user), 1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    # then she is in, straight to the home page
    assert page.url == f"{live_server.url}/"
    screenshot(page, "two-factor-3-signed-in")
    actions = set(AuditEvent.objects.filter(organization=school).values_list("action", flat=True))
    assert {"account.two_factor_enabled", "account.backup_codes_generated"} <= actions
