"""An admin in a real browser: trend chart, suppressed small class, CSV download, print view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.browser.conftest import screenshot, sign_in
from tests.factories import make_classroom, make_participant, make_staff
from tests.time_series import add_rollup, probs
from wellbeing.models import Organization, Role

pytestmark = pytest.mark.browser


def test_admin_reads_reports_downloads_csv_and_prints(
    live_server: Any, page: Any, settings: Any, school: Organization
) -> None:
    # given classes of 6, 5 and 3, observed on weekdays of the last four weeks
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    make_staff(school, Role.ADMIN, "ines")
    today = school.local_today()
    for room_name, size in (("7A", 6), ("7B", 5), ("7C", 3)):
        room = make_classroom(school, room_name)
        for i in range(size):
            kid = make_participant(school, f"{room_name} kid {i}", classroom=room)
            for back in range(28):
                day = today - dt.timedelta(days=back)
                if day.weekday() < 5:
                    add_rollup(kid, day, probs(sad=0.1 + 0.01 * back, happy=0.3), engaged=70 + i)
    # when the admin opens the reports
    sign_in(page, live_server.url, "ines", "pw-correct-horse")
    page.goto(live_server.url + reverse("dashboard:reports") + "?weeks=4")
    # then the whole-school trend is drawn and the class of 3 is suppressed
    assert int(page.locator("#school-trend-chart").get_attribute("data-drawn") or 0) >= 4
    classroom_rows = page.locator("#trends-classroom-table tbody tr")
    assert classroom_rows.filter(has_text="7C").first.inner_text().count("suppressed") == 1
    assert "suppressed" not in classroom_rows.filter(has_text="7A").first.inner_text()
    screenshot(page, "07-reports")
    # when the classroom CSV is downloaded
    with page.expect_download() as download:
        page.locator("a[href*='trends-classroom.csv']").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    # then it carries the same rows
    assert text.startswith('"classroom","week","participants"') and "7C" in text
    # and the printable view has tables but no charts or forms
    page.goto(live_server.url + reverse("dashboard:reports_print") + "?weeks=4")
    assert page.locator("canvas").count() == 0 and page.locator("table").count() >= 5
    page.emulate_media(media="print")
    screenshot(page, "08-reports-print")
