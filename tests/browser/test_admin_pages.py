"""A school admin in a real browser: inviting and re-roling staff, publishing a notice version.

The ``page`` fixture fails each test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import ConsentNotice
from consent.notice_publication import publication_effects
from tests.browser.conftest import screenshot, sign_in
from tests.factories import grant_consent, make_guardian, make_notice, make_participant, make_staff
from wellbeing.models import Organization, Role, StaffMember

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password


@pytest.fixture
def admin_page(live_server: Any, page: Any, settings: Any, school: Organization) -> Any:
    """The page, signed in as the school's admin over plain http."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    make_staff(school, Role.ADMIN, "ines")
    sign_in(page, live_server.url, "ines", PASSWORD)
    return page


def test_admin_invites_a_counselor_and_makes_them_a_teacher(
    live_server: Any, admin_page: Any, school: Organization, mailoutbox: list[Any]
) -> None:
    page = admin_page
    # given the admin opens Staff from the navigation
    page.locator("header nav a", has_text="Staff").click()
    page.wait_for_url(f"{live_server.url}/staff/")
    # when they invite a counselor
    page.get_by_role("link", name="Add staff member").click()
    page.fill("input[name=name]", "Carla Counselor")
    page.fill("input[name=email]", "Carla@Example.org")
    page.select_option("select[name=role]", Role.COUNSELOR)
    page.get_by_role("button", name="Invite").click()
    page.wait_for_load_state("load")
    # then the invitation went out, and the list shows them as an invited counselor
    assert "Invitation with a set-password link sent to carla@example.org" in page.content()
    assert [m.to for m in mailoutbox] == [["carla@example.org"]]
    page.get_by_role("link", name="Back to staff").click()
    row = page.locator("table.data tbody tr", has_text="Carla Counselor")
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["carla@example.org", "Counselor", "invited"]
    screenshot(page, "09-staff-list")
    # when they open Carla's page and change her role to teacher
    row.get_by_role("link", name="Carla Counselor").click()
    page.wait_for_load_state("load")
    page.select_option("select[name=role]", Role.TEACHER)
    page.get_by_role("button", name="Change role").click()
    page.wait_for_load_state("load")
    # then the page and the database say teacher
    assert "Carla Counselor is now Teacher." in page.content()
    carla = StaffMember.objects.select_related("user").get(user__email="carla@example.org")
    assert (carla.role, carla.organization_id) == (Role.TEACHER, school.pk)
    assert not carla.user.has_usable_password()
    assert page.url == f"{live_server.url}/staff/{carla.pk}/"
    screenshot(page, "10-staff-detail")


def consenting_school(school: Organization) -> None:
    """Notice v1; two of three participants have active consent under it."""
    make_notice(school)
    for name in ("Ada Lovelace", "Ben Okafor"):
        kid = make_participant(school, name)
        grant_consent(kid, make_guardian(kid))
    make_participant(school, "Chloe Martin")


def review_new_notice(page: Any, base_url: str) -> None:
    """From the navigation to the notice page, then submit version 2 for review."""
    page.locator("header nav a", has_text="Consent notices").click()
    page.wait_for_url(f"{base_url}/consent/notices/")
    page.fill("input[name=title]", "Emotion analysis, 2027")
    page.fill("textarea[name=text]", "We analyse facial expressions, now also at lunch.")
    page.get_by_role("button", name="Review consequences").click()
    page.wait_for_load_state("load")


def test_admin_reviews_then_publishes_a_notice_version(
    live_server: Any, admin_page: Any, school: Organization
) -> None:
    page = admin_page
    # given two of three participants consented under version 1
    consenting_school(school)
    # when the admin submits a new version
    review_new_notice(page, live_server.url)
    # then the review step states what lapses, and nothing is published yet
    assert "2 of 3 participants" in page.locator("p.warning").inner_text()
    assert ConsentNotice.objects.filter(organization=school).count() == 1
    screenshot(page, "11-notice-review")
    # when they confirm
    page.get_by_role("button", name="Publish version 2 and end 2 consents").click()
    page.wait_for_load_state("load")
    # then version 2 is current, with the text they wrote, and no consent is active any more
    current = ConsentNotice.objects.current_for(school)
    assert current is not None
    assert (current.version, current.title) == (2, "Emotion analysis, 2027")
    assert current.text == "We analyse facial expressions, now also at lunch."
    assert publication_effects(school).consents_lapsing == 0
    assert "v2 (current)" in page.locator("table.data").inner_text()


def test_admin_who_leaves_the_review_publishes_nothing(
    live_server: Any, admin_page: Any, school: Organization
) -> None:
    page = admin_page
    # given two of three participants consented under version 1
    consenting_school(school)
    # when the admin reaches the review step and cancels
    review_new_notice(page, live_server.url)
    assert "2 of 3 participants" in page.locator("p.warning").inner_text()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{live_server.url}/consent/notices/")
    # then version 1 is still current and both consents are still active
    current = ConsentNotice.objects.current_for(school)
    assert current is not None and current.version == 1
    assert ConsentNotice.objects.filter(organization=school).count() == 1
    assert publication_effects(school).consents_lapsing == 2
