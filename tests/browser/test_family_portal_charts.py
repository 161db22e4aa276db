"""The family portal's expression chart in Chromium, where the school shows it: a guardian signs
in by the e-mailed link, follows the link on their child's page, and the chart draws the stored
days (read back from Chart.js) with the caveat beside it, under our CSP (the ``page`` fixture
fails the test on any console error, uncaught exception or CSP violation)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache

from consent.portal import rate_keys
from tests.browser.conftest import painted_pixels, read_back, screenshot
from tests.factories import grant_consent
from tests.time_series import add_rollup, probs
from wellbeing.models import Guardian, Organization, Participant

pytestmark = pytest.mark.browser


def test_a_guardian_sees_the_chart_their_school_turned_on(
    live_server: Any, page: Any, settings: Any, school: Organization, student: Participant,
    guardian: Guardian, notice: Any,
) -> None:  # fmt: skip
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    cache.delete_many([*rate_keys("parent@example.org", "127.0.0.1"), "portal-open-ip:127.0.0.1"])
    # given a school that shows charts, and two stored days of the guardian's child
    school.portal_shows_expression_charts = True
    school.save()
    grant_consent(student, guardian)
    add_rollup(student, dt.date(2026, 3, 2), probs(happy=0.5, neutral=0.3))
    add_rollup(student, dt.date(2026, 3, 4), probs(sad=0.4, neutral=0.4))
    base = live_server.url
    # when the guardian signs in to the portal by its e-mailed link
    page.goto(f"{base}/portal/")
    page.fill("input[name=email]", "parent@example.org")
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.wait_for_load_state("load")
    link = re.search(r"https?://[^/\s]+(/portal/link/[^/\s]+/)", str(mail.outbox[-1].body))
    assert link, mail.outbox[-1].body
    page.goto(base + link.group(1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Alex Student").click()
    page.wait_for_load_state("load")
    # and follows the link to the chart on their child's page
    page.get_by_role("link", name="expression shares per day").click()
    page.wait_for_selector("body[data-charts-ready=true]")
    # then the chart draws both days as stacked columns of the seven expressions, with a gap
    # for the day between, and the caveat is beside it
    timeline = read_back(page, "timeline-chart")
    assert [d["drawn"] for d in timeline] == [2] * 7
    assert {tuple(d["indexes"]) for d in timeline} == {(0, 2)}
    assert painted_pixels(page, "timeline-chart") > 2000
    assert "never a diagnosis" in page.locator("p.notice").inner_text()
    assert "Expressions are not feelings" in page.locator("section.portal-caveat").inner_text()
    screenshot(page, "family-portal-charts")
