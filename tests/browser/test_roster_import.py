"""A school admin imports a OneRoster set in Chromium: upload, preview, confirm, students listed.

The ``page`` fixture fails the test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import ConsentRecord
from tests.browser.conftest import screenshot, sign_in
from tests.consent.roster_sets import USERS, oneroster, zipped
from tests.factories import make_staff
from wellbeing.models import Guardian, Organization, Participant, Role

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


@pytest.fixture
def admin_page(live_server: Any, page: Any, settings: Any, school: Organization) -> Any:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    make_staff(school, Role.ADMIN, "ines")
    make_staff(school, Role.TEACHER, "teacher")  # teacher@example.org, Tess in the files
    sign_in(page, live_server.url, "ines", PASSWORD)
    return page


def open_import(page: Any, base_url: str) -> None:
    page.locator("header nav a", has_text="Participants").click()
    page.wait_for_url(f"{base_url}/consent/participants/")
    page.get_by_role("link", name="Import a roster").click()
    page.wait_for_url(f"{base_url}/consent/roster/")


def choose_files(page: Any, files: dict[str, bytes]) -> None:
    archive = {"name": "oneroster.zip", "mimeType": "application/zip", "buffer": zipped(files)}
    page.set_input_files("input[name=roster]", files=[archive])
    page.get_by_role("button", name="Preview the import").click()
    page.wait_for_load_state("load")


def test_admin_imports_a_oneroster_set_and_sees_the_students(
    live_server: Any, admin_page: Any, school: Organization
) -> None:
    page = admin_page
    # given the admin opens the roster import from the participants page
    open_import(page, live_server.url)
    # when they upload the OneRoster zip
    choose_files(page, oneroster())
    # then the preview counts what would be created, says no consent is created, lists the
    # students, and nothing is saved yet
    counts = page.locator("table.roster-counts tbody tr")
    assert counts.nth(1).locator("td").all_inner_texts() == ["2", "0", "0", "0"]  # students
    assert counts.nth(2).locator("td").all_inner_texts() == ["3", "0", "0", "0"]  # guardians
    assert "No consent is created by an import" in page.locator("p.consent-note").inner_text()
    assert "Ada Lovelace" in page.content() and "Tess Teacher teaches 7B" in page.content()
    assert not Participant.objects.filter(organization=school).exists()
    screenshot(page, "roster-01-preview")
    # when they confirm
    page.get_by_role("button", name="Import: 8 records to create or change").click()
    page.wait_for_url(f"{live_server.url}/consent/participants/")
    # then the participants list shows the imported students, without consent
    assert "Roster imported" in page.locator("p.message").inner_text()
    rows = page.locator("table.data tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names == ["Ada Lovelace", "Ben Okafor"]
    assert rows.first.locator("td .ok").count() == 0  # no scope active
    assert not ConsentRecord.objects.filter(participant__organization=school).exists()
    assert Guardian.objects.get(source_id="par-1").email == "anne@example.org"
    screenshot(page, "roster-02-imported")
    # when they upload the same files again / then the preview has nothing to change
    open_import(page, live_server.url)
    choose_files(page, oneroster())
    assert page.locator("table.roster-counts tbody tr").nth(1).locator("td").all_inner_texts() == [
        "0",
        "0",
        "2",
        "0",
    ]
    assert page.get_by_role("button", name="Nothing to change: record the import").is_visible()


def test_admin_sees_each_error_and_cannot_import(
    live_server: Any, admin_page: Any, school: Organization
) -> None:
    page = admin_page
    # given a users.csv with a bad e-mail address on line 4
    open_import(page, live_server.url)
    choose_files(page, oneroster(users=USERS.replace("Anne@Example.org", "anne-at-example")))
    # then the error names file, line and column, and there is no import button
    cells = page.locator("table.roster-errors tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["users.csv", "4", "email", "'anne-at-example' is not an e-mail address."]
    assert page.locator("form[action$='/roster/confirm/']").count() == 0
    assert not Participant.objects.filter(organization=school).exists()
    screenshot(page, "roster-03-errors")
