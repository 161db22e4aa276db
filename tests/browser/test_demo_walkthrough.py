"""`make demo` end to end in a real browser: the demo school seeded by the seed_demo command, the
server (daphne on the test database), the demo stream (`manage.py demo_stream`, the real capture
client) running against it, then each demo role signs in with the password the stream printed
and finds what the demo is for. Screenshots go to test-artifacts/browser/demo-*.png.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from capture.models import ClassSession, SessionStatus
from tests.browser.conftest import (
    read_back,
    screenshot,
    serve_with_daphne,
    sign_in,
)
from tests.capture.conftest import require_faces
from tests.conftest import database_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIGN_IN_LINE = re.compile(r"^\s+(\w+)\s+password: (\S+)$", re.MULTILINE)
STREAM_MINUTES = 5  # an upper bound: the test stops the stream with Ctrl-C's signal


@pytest.fixture
def demo_server(transactional_db: Any, tmp_path: Path, settings: Any) -> Iterator[str]:
    """The demo school seeded as `make demo` seeds it, served by daphne on the test database."""
    require_faces()
    settings.DATA_DIR = tmp_path  # where seed_demo keeps the demo camera's token
    call_command("seed_demo", stdout=io.StringIO())
    yield from serve_with_daphne(tmp_path, "tests.browser.daphne_settings")


@dataclass
class DemoStream:
    process: subprocess.Popen[bytes]
    sign_ins: dict[str, str]  # role: password, as printed once the server was up
    log: Path


@pytest.fixture
def demo_stream(demo_server: str, tmp_path: Path) -> Iterator[DemoStream]:
    """`manage.py demo_stream` streaming the live class to the server, as `make demo` starts
    it (the real capture client), with the sign-ins it printed; stopped after the test."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.browser.daphne_settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DATA_DIR": str(tmp_path),
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "demo_stream.log"
    command = [sys.executable, "manage.py", "demo_stream", "--server", demo_server]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--minutes", str(STREAM_MINUTES)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield DemoStream(process, printed_sign_ins(process, log_path), log_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def printed_sign_ins(stream: subprocess.Popen[bytes], log_path: Path) -> dict[str, str]:
    """The role: password lines the stream printed once the server answered."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log_path.read_text()
        if "Ctrl-C stops the demo" in text:
            return dict(SIGN_IN_LINE.findall(text))
        assert stream.poll() is None, f"demo_stream stopped early:\n{text}"
        time.sleep(0.5)
    raise AssertionError(f"demo_stream printed no sign-ins:\n{log_path.read_text()}")


def sign_in_as(page: Any, base_url: str, role: str, password: str) -> None:
    """A fresh sign-in (the previous role's cookies dropped) that reached the home page."""
    page.context.clear_cookies()
    sign_in(page, base_url, role, password)
    assert page.url == base_url + reverse("dashboard:home"), f"{role} landed on {page.url}"


def newest_alert(alerts: Any) -> Any:
    """The alert item raised most recently ("raised today", "yesterday", "N days ago")."""

    def age(item: Any) -> int:
        text = item.locator(".alert-age").inner_text()
        days = re.search(r"(\d+) days ago", text)
        return int(days.group(1)) if days else 0 if "today" in text else 1

    return min(alerts.all(), key=age)


def test_each_demo_role_finds_what_the_demo_shows_right_after_make_demo(
    demo_server: str, demo_stream: DemoStream, page: Any
) -> None:
    from playwright.sync_api import expect

    base, demo_sign_ins = demo_server, demo_stream.sign_ins
    # given the demo seeded, served and streaming, and the sign-ins it printed
    assert set(demo_sign_ins) == {"admin", "counselor", "teacher"}
    # when the counselor signs in
    sign_in_as(page, base, "counselor", demo_sign_ins["counselor"])
    # then open alerts come first, each with its evidence line and a drawn sparkline
    alerts = page.locator("#open-alerts .alert-item")
    expect(alerts.first).to_be_visible()
    for item in alerts.all():
        evidence = item.locator(".alert-evidence").inner_text()
        assert re.search(r"\d+% on \d+ of the last \d+", evidence), evidence
        assert item.locator("svg.spark polyline.spark-line").count() >= 1
    screenshot(page, "demo-1-counselor-first-screen")
    # and the newest alert's student has a visible 14-day sparkline on the caseload
    student_name = newest_alert(alerts).locator(".alert-who a").inner_text()
    page.fill("#q", student_name)
    page.click("form.search button")
    spark = page.locator("#caseload tbody tr", has_text=student_name).locator("svg.spark")
    expect(spark).to_be_visible()
    assert int(spark.get_attribute("data-known") or 0) >= 5
    assert spark.locator("polyline.spark-line").count() >= 1
    # when the counselor opens that student's page
    page.click(f"#caseload >> text={student_name}")
    page.wait_for_selector("body[data-charts-ready=true]")
    # then the emotion timeline has drawn columns with the alert's evidence days marked
    assert page.locator("h1").inner_text().startswith(student_name)
    timeline = read_back(page, "timeline-chart")
    assert len(timeline) == 7 and min(d["drawn"] for d in timeline) >= 5, timeline
    assert int(page.locator("#timeline-chart").get_attribute("data-alert-bands") or 0) >= 1
    # and the rule comparison draws the student's values
    comparison = {d["label"]: d["drawn"] for d in read_back(page, "comparison-chart")}
    assert comparison["negative affect"] >= 5, comparison
    screenshot(page, "demo-2-counselor-student-page")

    # when the admin signs in and opens the reports
    sign_in_as(page, base, "admin", demo_sign_ins["admin"])
    page.click("text=Reports")
    page.wait_for_selector("#school-trend-chart[data-drawn]")
    # then the weekly rows of the school and of each class show numbers, none suppressed
    for table in ("#trends-week-table", "#trends-classroom-table"):
        rows = page.locator(f"{table} tbody tr")
        assert rows.count() >= 2, table
        assert page.locator(f"{table} td.suppressed").count() == 0, table
        assert re.fullmatch(r"\d+%", rows.first.locator("td").nth(3).inner_text())
    screenshot(page, "demo-3-admin-reports")

    # when the teacher signs in and follows the running session from the home page
    sign_in_as(page, base, "teacher", demo_sign_ins["teacher"])
    page.click("#running-title ~ ul a")
    page.wait_for_selector("#live-connection[data-state=open]", timeout=15_000)
    # then, while the stream runs, a pushed update shows class-level numbers (5 >= 3 recognised)
    expect(page.locator("#live-view")).to_have_attribute(
        "data-updates", re.compile(r"^[1-9]\d*$"), timeout=90_000
    )
    assert int(page.locator("#live-recognised").inner_text()) >= 3
    expect(page.locator("#live-suppressed")).to_be_hidden()
    counts = page.locator("[id^=live-count-]").all_inner_texts()
    assert all(c.isdigit() for c in counts) and sum(map(int, counts)) >= 3, counts
    assert int(page.locator("#live-chart").get_attribute("data-drawn") or 0) >= 1
    screenshot(page, "demo-4-teacher-live-view")

    # when Ctrl-C reaches the demo stream
    demo_stream.process.send_signal(signal.SIGINT)
    # then it ends its session and exits at once (not when --minutes would have passed)
    assert demo_stream.process.wait(timeout=30) == 0, demo_stream.log.read_text()
    assert not ClassSession.objects.filter(status=SessionStatus.RUNNING).exists()
