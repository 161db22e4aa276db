"""The family consent walk-through of issue 16 in Chromium: staff e-mail a class; a guardian
follows the e-mailed link and grants; a student above the consent age refuses emotion analysis,
which wins; the guardian signs in to the family portal by its e-mailed link and withdraws the
face template; staff see each state change on the student's page.

The ``page`` fixture fails the test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache

from consent.models import ALL_SCOPES
from consent.portal import rate_keys
from consent.rules import consent_state
from tests.browser.conftest import screenshot, sign_in
from tests.factories import make_staff
from wellbeing.models import Classroom, Guardian, Organization, Participant, Role

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


def path_in(message: Any, prefix: str) -> str:
    match = re.search(rf"https?://[^/\s]+({prefix}[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def mail_to(address: str) -> Any:
    return [m for m in mail.outbox if m.to == [address]][-1]


def staff_sees(page: Any, base: str, student: Participant) -> dict[str, str]:
    """Sign in as the admin, read the student's consent status per scope, sign out."""
    sign_in(page, base, "ines", PASSWORD)
    page.goto(f"{base}/consent/participants/{student.pk}/")
    items = page.locator("section.card").first.locator("li").all_inner_texts()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    return {text.split(":")[0]: text.split(":", 1)[1].strip() for text in items}


def answer(page: Any, base: str, message: Any, decisions: dict[str, str]) -> None:
    page.goto(base + path_in(message, "/consent/answer/"))
    for scope, decision in decisions.items():
        page.locator(f"input[name={scope}][value={decision}]").check()
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_load_state("load")
    assert "your answer is recorded" in page.locator("h1").inner_text()


def test_guardian_grants_student_refuses_guardian_withdraws_and_staff_see_each_change(
    live_server: Any, page: Any, settings: Any, school: Organization, classroom: Classroom,
    student: Participant, guardian: Guardian, notice: Any,
) -> None:  # fmt: skip
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.CONSENT_LINK_RATE_LIMIT = 10_000
    cache.delete_many([*rate_keys("parent@example.org", "127.0.0.1"), "portal-open-ip:127.0.0.1"])
    make_staff(school, Role.ADMIN, "ines")
    base = live_server.url
    # given Alex is 15 (a UK school: a student's own decision counts from 13), with an address
    student.date_of_birth = school.local_today() - dt.timedelta(days=15 * 366)
    student.email = "alex@students.example"
    student.save()

    # when the admin e-mails the class, the guardian and Alex each get a consent link
    sign_in(page, base, "ines", PASSWORD)
    page.goto(f"{base}/consent/requests/class/{classroom.pk}/")
    page.get_by_role("button", name="E-mail the guardians and students of the class").click()
    page.wait_for_load_state("load")
    assert "2 consent request(s) e-mailed" in page.locator("p.message").first.inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert sorted(m.to[0] for m in mail.outbox) == ["alex@students.example", "parent@example.org"]

    # when the guardian follows the e-mailed link and grants both kinds of processing
    answer(page, base, mail_to("parent@example.org"), dict.fromkeys(ALL_SCOPES, "grant"))
    screenshot(page, "family-guardian-granted")
    # then staff see both active
    seen = staff_sees(page, base, student)
    assert seen == {"emotion_analysis": "active", "face_template": "active"}

    # when Alex follows their own link and refuses emotion analysis (agreeing to the template)
    answer(page, base, mail_to("alex@students.example"),
           {"emotion_analysis": "refuse", "face_template": "grant"})  # fmt: skip
    # then the student's refusal wins over the guardian's grant, and staff see why
    seen = staff_sees(page, base, student)
    assert seen["face_template"] == "active"
    assert seen["emotion_analysis"].startswith("not active")
    assert "objection on record (the student themself)" in seen["emotion_analysis"]
    assert consent_state(student, ALL_SCOPES).active_scopes == {"face_template"}

    # when the guardian asks the family portal for a sign-in link and follows it
    page.goto(f"{base}/portal/")
    page.fill("input[name=email]", "parent@example.org")
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.wait_for_load_state("load")
    assert "Check your e-mail" in page.locator("h1").inner_text()
    page.goto(base + path_in(mail_to("parent@example.org"), "/portal/link/"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Alex Student").click()
    page.wait_for_load_state("load")
    # then the portal shows the state, the reasons and the history
    assert "objection on record" in page.locator("#scope-emotion_analysis .state").inner_text()
    assert page.locator("#scope-face_template .state").inner_text() == "active"
    assert page.locator("table.portal-history tbody tr").count() == 3
    screenshot(page, "family-portal-before-withdrawal")
    # when the guardian withdraws the face template there
    page.locator("#scope-face_template").get_by_role("button", name="Withdraw consent").click()
    page.wait_for_load_state("load")
    assert "Processing stopped at once" in page.locator("p.message").first.inner_text()
    assert page.locator("#scope-face_template .state").inner_text().startswith("not active")
    screenshot(page, "family-portal-withdrawn")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert "signed out" in page.locator("h1").inner_text()

    # then staff see nothing active any more, and the portal's records in the history
    seen = staff_sees(page, base, student)
    assert all(state.startswith("not active") for state in seen.values()), seen
    assert consent_state(student, ALL_SCOPES).active_scopes == frozenset()
    sign_in(page, base, "ines", PASSWORD)
    page.goto(f"{base}/consent/participants/{student.pk}/")
    assert "family portal" in page.locator("section.card").nth(1).inner_text()
    screenshot(page, "family-staff-view")
