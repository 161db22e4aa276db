"""Charts never draw blank for valid data, read back from Chart.js in a real browser: one day,
one point, gaps (left as gaps, never bridged), a single session, a report week missing; and the
counselor's first screen (alert feed, caseload sparklines, the rule comparison on the student
page with the alert marked). Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from alerts.evaluation import evaluate_organization
from tests.browser.conftest import painted_pixels, read_back, screenshot, sign_in
from tests.factories import make_classroom, make_participant, make_staff
from tests.time_series import (
    add_minutes,
    add_rollup,
    make_class,
    make_session,
    probs,
    weekdays_until,
    write_day,
)
from wellbeing.models import Organization, Participant, Role

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


def open_student(page: Any, base_url: str, student: Participant, query: str = "") -> None:
    page.goto(f"{base_url}{reverse('dashboard:student', args=[student.pk])}{query}")
    page.wait_for_selector("body[data-charts-ready=true]")


@pytest.fixture
def signed_in(live_server: Any, page: Any, settings: Any, school: Organization) -> Any:
    """Counselor "dana" signed in (plain http: cookies without Secure)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    counselor = make_staff(school, Role.COUNSELOR, "dana")
    sign_in(page, live_server.url, "dana", PASSWORD)
    return counselor


def test_one_day_of_data_draws_a_visible_column_and_point(
    live_server: Any, page: Any, signed_in: Any, school: Organization
) -> None:
    # given a student observed on one day only (today)
    student = make_participant(school, "Ona Day", counselor=signed_in)
    add_rollup(student, school.local_today(), probs(sad=0.3, happy=0.3, neutral=0.2))
    # when the default 14 days are shown per day
    open_student(page, live_server.url, student, "?resolution=day")
    # then the timeline has one stacked column of all seven expressions, on the last day
    timeline = read_back(page, "timeline-chart")
    assert [d["drawn"] for d in timeline] == [1] * 7
    assert {tuple(d["indexes"]) for d in timeline} == {(13,)}
    assert painted_pixels(page, "timeline-chart") > 2000
    # and the engagement line's only value is a visible dot
    (engaged,) = read_back(page, "engagement-chart")
    assert engaged["drawn"] == 14 - 13 and engaged["indexes"] == [13]
    screenshot(page, "chart-01-one-day")


def test_a_single_session_in_one_hour_draws_one_column(
    live_server: Any, page: Any, signed_in: Any, school: Organization
) -> None:
    # given one 40-minute session today, all inside one hour
    room = make_classroom(school, "8C")
    student = make_participant(school, "Sol Session", classroom=room, counselor=signed_in)
    start = dt.datetime.combine(school.local_today(), dt.time(9, 5), tzinfo=school.tzinfo)
    session = make_session(room, start, title="History")
    add_minutes(student, session, start, 40, probs(sad=0.4, neutral=0.4))
    add_rollup(student, school.local_today(), probs(sad=0.4, neutral=0.4), n=240)
    # when shown per hour
    open_student(page, live_server.url, student, "?resolution=hour")
    # then the one hour is one visible stacked column (a line would have no length)
    timeline = read_back(page, "timeline-chart")
    assert page.evaluate("Chart.getChart(document.getElementById('timeline-chart')).data.labels")[
        -1
    ].endswith("09:00")
    assert [d["drawn"] for d in timeline] == [1] * 7
    # and the rule comparison shows that day's value as a dot (40 minutes >= 20 counted)
    comparison = {d["label"]: d for d in read_back(page, "comparison-chart")}
    assert comparison["negative affect"]["drawn"] == 1
    assert int(page.locator("#comparison-chart").get_attribute("data-drawn") or 0) == 1
    assert page.locator("text=1 class session with observations").count() == 1
    screenshot(page, "chart-02-single-session")


def test_missing_days_stay_gaps(
    live_server: Any, page: Any, signed_in: Any, school: Organization
) -> None:
    # given observations on days 1-3 and 7-10 of a 10-day range, none on days 4-6
    student = make_participant(school, "Gia Gap", counselor=signed_in)
    first = school.local_today() - dt.timedelta(days=9)
    observed = [0, 1, 2, 6, 7, 8, 9]
    for offset in observed:
        add_rollup(student, first + dt.timedelta(days=offset), probs(sad=0.3), engaged=90)
    # when the range is shown per day
    open_student(page, live_server.url, student, f"?start={first.isoformat()}&resolution=day")
    # then the timeline has columns exactly on the observed days
    assert {tuple(d["indexes"]) for d in read_back(page, "timeline-chart")} == {tuple(observed)}
    # and the engagement line is two pieces with nothing drawn across the gap
    (engaged,) = read_back(page, "engagement-chart")
    assert engaged["indexes"] == observed and engaged["segments"] == 2
    assert line_pixels_at(page, "engagement-chart", 4, 75) == 0
    assert line_pixels_at(page, "engagement-chart", 1, 75) > 0
    screenshot(page, "chart-03-gaps")


def line_pixels_at(page: Any, canvas_id: str, index: int, value: float) -> int:
    """Strongly painted pixels (alpha over half: the line, not the faint grid) in a 5x5 box
    where the line would be at label ``index`` and ``value``%."""
    return int(
        page.evaluate(
            """([id, index, value]) => {
                const chart = Chart.getChart(document.getElementById(id));
                const x = chart.scales.x.getPixelForValue(index) * chart.currentDevicePixelRatio;
                const y = chart.scales.y.getPixelForValue(value) * chart.currentDevicePixelRatio;
                const d = chart.ctx.getImageData(Math.round(x) - 2, Math.round(y) - 2, 5, 5).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 128) n++;
                return n;
            }""",
            [canvas_id, index, value],
        )
    )


def test_report_week_without_data_is_a_gap(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    # given six students observed in the first and the third of three weeks, not the second
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    make_staff(school, Role.ADMIN, "ines")
    today = school.local_today()
    monday = today - dt.timedelta(days=today.weekday())
    room = make_classroom(school, "9A")
    for i in range(6):
        kid = make_participant(school, f"Kid {i}", classroom=room)
        for day in (monday - dt.timedelta(weeks=2), monday):
            add_rollup(kid, day, probs(sad=0.2))
    # when the admin opens three weeks of reports
    sign_in(page, live_server.url, "ines", PASSWORD)
    page.goto(live_server.url + reverse("dashboard:reports") + "?weeks=3")
    page.wait_for_selector("#school-trend-chart[data-drawn]")
    # then the middle week is a gap and each lone week is a visible point
    negative, engaged = read_back(page, "school-trend-chart")
    assert negative["indexes"] == [0, 2] and negative["segments"] == 2
    assert engaged["indexes"] == [0, 2]
    screenshot(page, "chart-04-report-gap-week")


def test_first_screen_and_student_page_show_what_the_rule_compares(
    live_server: Any, page: Any, signed_in: Any, school: Organization, notice: Any
) -> None:
    # given a consented class of six at 20% negative affect for 25 school days, one student
    # at 60% on the last 5, evaluated by the real rule engine (which raises one alert)
    room = make_classroom(school, "7B")
    pupils = make_class(school, room, 6, counselor=signed_in)
    days = weekdays_until(school.local_today(), 25)
    for i, day in enumerate(days):
        for k, pupil in enumerate(pupils):
            write_day(pupil, day, 0.6 if k == 0 and i >= 20 else 0.2 + 0.01 * k)
    assert len(evaluate_organization(school, as_of=days[-1]).raised) == 1
    # when the counselor opens the first screen
    page.goto(live_server.url + reverse("dashboard:home"))
    # then the open alert comes first, with its evidence in one line and a drawn sparkline
    item = page.locator("#open-alerts .alert-item")
    assert item.count() == 1 and "negative affect 60% on 5 of the last 5" in item.inner_text()
    assert item.locator("svg.spark polyline, svg.spark circle.spark-mark").count() >= 2
    # and every caseload row has a visible 14-day sparkline, the change and last seen
    rows = page.locator("#caseload tbody tr")
    assert rows.count() == 6
    for i in range(6):
        assert rows.nth(i).locator("svg.spark polyline").count() >= 1
    planted = rows.filter(has_text=pupils[0].full_name)
    assert planted.locator(".change-beyond").inner_text() == "+40 pts"
    screenshot(page, "first-screen-01-home")
    # when they open the student
    page.click(f"text={pupils[0].full_name}")
    page.wait_for_selector("body[data-charts-ready=true]")
    # then the timeline marks the alert's evidence days
    assert int(page.locator("#timeline-chart").get_attribute("data-alert-bands") or 0) == 1
    # and the rule comparison draws the value, the baseline band and the class median
    comparison = {d["label"]: d for d in read_back(page, "comparison-chart")}
    assert comparison["negative affect"]["segments"] >= 1
    assert comparison["own baseline"]["segments"] >= 1
    assert comparison["class median"]["segments"] >= 1
    assert int(page.locator("#comparison-chart").get_attribute("data-alert-bands") or 0) == 1
    assert painted_pixels(page, "comparison-chart") > 3000
    screenshot(page, "first-screen-02-student")
