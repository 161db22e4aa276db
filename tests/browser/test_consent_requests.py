"""Consent collected online in Chromium: an admin e-mails a class, the guardian follows the
e-mailed link and grants, and the admin sees the answer and the active consent on the class view.

The ``page`` fixture fails the test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache

from consent.models import ALL_SCOPES
from consent.rules import consent_state
from tests.browser.conftest import screenshot, sign_in
from tests.factories import make_staff
from wellbeing.models import Classroom, Guardian, Participant, Role

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


def link_path(message: Any) -> str:
    match = re.search(r"https?://[^/\s]+(/consent/answer/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_guardian_grants_through_the_emailed_link_and_staff_see_it(
    live_server: Any, page: Any, settings: Any, school: Any, classroom: Classroom,
    student: Participant, guardian: Guardian, notice: Any,
) -> None:  # fmt: skip
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    cache.delete("consent-link-rate:127.0.0.1")
    make_staff(school, Role.ADMIN, "ines")
    base = live_server.url
    # given the admin e-mails the guardians of 7B from the class view
    sign_in(page, base, "ines", PASSWORD)
    page.goto(f"{base}/consent/participants/")
    page.get_by_role("link", name="Consent requests").click()
    page.get_by_role("link", name="7B").click()
    page.get_by_role("button", name="E-mail the guardians and students of the class").click()
    page.wait_for_load_state("load")
    assert page.locator("td.status").inner_text() == "no answer"
    screenshot(page, "consent-request-sent")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    # when the guardian opens the link from the e-mail and agrees to both kinds of processing
    [message] = mail.outbox
    assert message.to == ["parent@example.org"]
    page.goto(base + link_path(message))
    assert notice.title in page.locator("section.notice").inner_text()
    assert "days" in page.locator("table.data").inner_text()  # what is kept, and how long
    screenshot(page, "consent-request-notice")
    for scope in ALL_SCOPES:
        page.locator(f"input[name={scope}][value=grant]").check()
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_load_state("load")
    assert "your answer is recorded" in page.locator("h1").inner_text()
    screenshot(page, "consent-request-answered")
    # then the link cannot be used again, processing is active, and the admin sees the answer
    page.goto(base + link_path(message))
    assert "already recorded" in page.locator("h1").inner_text()
    assert consent_state(student, ALL_SCOPES).active_scopes == set(ALL_SCOPES)
    sign_in(page, base, "ines", PASSWORD)
    page.goto(f"{base}/consent/requests/class/{classroom.pk}/")
    assert page.locator("td.status").inner_text() == "granted"
    assert page.locator("span.ok").count() == len(ALL_SCOPES)
    screenshot(page, "consent-request-class-view")
