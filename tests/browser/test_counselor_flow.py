"""A counselor in a real browser: caseload, a student's charts, acknowledging an alert."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.browser.conftest import painted_pixels, screenshot, sign_in
from tests.factories import make_classroom, make_participant, make_staff
from tests.time_series import (
    add_minutes,
    add_rollup,
    make_alert,
    make_session,
    probs,
)
from wellbeing.models import Organization, Participant, Role, StaffMember

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


def build_caseload(school: Organization, counselor: StaffMember) -> list[Participant]:
    """Three students with 14 days of rollups and two hours of minutes today."""
    tz = school.tzinfo
    today = school.local_today()
    room = make_classroom(school, "7B")
    kids = [
        make_participant(school, name, classroom=room, counselor=counselor)
        for name in ("Ada Lovelace", "Ben Okafor", "Chloe Martin")
    ]
    for k, kid in enumerate(kids):
        for back in range(14):
            sad = 0.05 + 0.25 * k * (14 - back) / 14 + 0.05 * (back % 3)
            mix = probs(sad=sad, neutral=0.5 - sad / 2, happy=0.3 - sad / 2, angry=0.02, fear=0.02)
            add_rollup(kid, today - dt.timedelta(days=back), mix)
    start = dt.datetime.combine(today, dt.time(8, 30), tzinfo=tz)
    session = make_session(room, start, title="Maths")
    for i in range(4):
        add_minutes(
            kids[2], session, start + dt.timedelta(minutes=30 * i), 30, probs(sad=0.2 + 0.1 * i)
        )
    return kids


def test_counselor_sees_caseload_and_student_charts(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    # given a counselor with three observed students (plain http: cookies without Secure)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    counselor = make_staff(school, Role.COUNSELOR, "dana")
    kids = build_caseload(school, counselor)
    # when the counselor signs in
    sign_in(page, live_server.url, "dana", PASSWORD)
    # then the caseload lists the three students, each with a 14-day sparkline
    rows = page.locator("#caseload tbody tr")
    assert rows.count() == 3
    assert page.locator("#caseload svg.spark polyline").count() >= 3
    screenshot(page, "01-caseload")
    # when sorted by negative affect, most first
    for direction in ("negative", "-negative"):
        page.locator("#caseload thead a", has_text="Negative affect").click()
        page.wait_for_url(f"**sort={direction}*")
    # then the most negative student is on top
    assert page.locator("#caseload tbody tr").first.inner_text().startswith("Chloe Martin")
    # when the counselor opens that student for the last 7 days
    page.click("text=Chloe Martin")
    page.wait_for_selector("body[data-charts-ready=true]")
    # then every chart is drawn from loaded data and has pixels on its canvas
    for chart in ("timeline-chart", "weekly-chart", "pie-chart", "engagement-chart"):
        canvas = page.locator(f"#{chart}")
        assert int(canvas.get_attribute("data-drawn") or 0) > 0, chart
        assert painted_pixels(page, chart) > 500, chart
    assert page.locator("text=Consent status").count() == 1
    screenshot(page, "02-student")
    assert kids


def signed_in_counselor_with_alert(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> tuple[StaffMember, Any]:
    """Counselor "dana" signed in, with an open alert on a caseload student's last 3 days."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    counselor = make_staff(school, Role.COUNSELOR, "dana")
    kids = build_caseload(school, counselor)
    today = school.local_today()
    alert = make_alert(kids[2], [today - dt.timedelta(days=d) for d in (1, 2, 3)])
    sign_in(page, live_server.url, "dana", PASSWORD)
    return counselor, alert


def test_counselor_acknowledges_an_alert_seen_on_the_student_page(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    # given a student with an open alert whose evidence covers the last three days
    counselor, alert = signed_in_counselor_with_alert(live_server, page, settings, school)
    # then the caseload shows one open alert for that student
    assert page.locator("#caseload .badge").inner_text() == "1"
    # when the counselor opens the student, the alert band is on the timeline
    page.click("text=Chloe Martin")
    page.wait_for_selector("body[data-charts-ready=true]")
    assert page.locator("#alerts-title + table tbody tr").count() == 1
    screenshot(page, "03-student-with-alert")
    # when they follow the alert and acknowledge it
    page.click("#alerts-title + table a")
    page.click("button:has-text('Acknowledge')")
    page.wait_for_load_state("load")
    # then the alert is acknowledged by them and the caseload badge stays until it is closed
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    assert alert.acknowledged_by == counselor
    screenshot(page, "04-alert-acknowledged")


def test_counselor_acknowledges_then_resolves_from_the_inbox_without_a_reload(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    # given an open alert on the counselor's caseload
    counselor, alert = signed_in_counselor_with_alert(live_server, page, settings, school)
    page.goto(f"{live_server.url}/alerts/")
    page.evaluate("window.__sameDocument = true")
    # when they acknowledge the row in the inbox
    page.fill("form[data-inline-action] [name=note]", "will check in today")
    page.click("form[data-inline-action] button[data-action=acknowledge]")
    page.wait_for_selector("text=Done")
    # then the row says so, the page was not reloaded, and the alert is acknowledged
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("[data-alert-state]").first.inner_text() == "Acknowledged"
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == counselor
    screenshot(page, "09-inbox-acknowledged")
    # when they later resolve the same row, rating the alert not useful
    page.fill("form[data-inline-action] [name=note]", "exam stress, already known")
    page.select_option("form[data-inline-action] select[name=useful]", "no")
    page.click("form[data-inline-action] button[data-action=resolve]")
    page.wait_for_selector("form[data-inline-action]", state="detached")
    # then the row says resolved, still without a reload, and note and rating are stored
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("[data-alert-state]").first.inner_text() == "Resolved"
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.useful is False
    assert alert.events.get(kind="resolved").note == "exam stress, already known"
    screenshot(page, "10-inbox-resolved")
