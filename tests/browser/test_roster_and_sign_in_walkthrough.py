"""Issue 16's second walk-through in Chromium: a school admin imports the OneRoster 1.1 CSV files
of the new term (orgs, users with guardian relations in agentSourcedIds, classes, enrollments;
uploaded one by one) over last term's import, reviews what will be created, changed and left
alone, confirms and sees the result; then a counselor signs in through the school's OpenID
Connect provider (the test issuer of tests/wellbeing/oidc_issuer.py on 127.0.0.1, a real
redirect, code exchange and ID-token check) and lands on their caseload as that staff member,
with the imported student the admin put on it.

Screenshots go to test-artifacts/browser/walkthrough-roster-*.png. The ``page`` fixture fails the
test on any console error, uncaught exception or CSP violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import ConsentRecord
from consent.roster_import import apply_roster
from consent.roster_plan import plan_roster
from tests.browser.conftest import screenshot, sign_in
from tests.consent.roster_sets import (
    CLASSES_HEADER,
    ENROLLMENTS_HEADER,
    ORGS,
    USERS_HEADER,
    oneroster,
)
from tests.factories import make_staff
from tests.wellbeing.oidc_issuer import LocalIssuer
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Organization, Participant, Role, StaffMember

pytestmark = pytest.mark.browser
PASSWORD = "pw-correct-horse"  # tests.factories.make_staff's password

# Last term's export: Ben was "Benjamin" in year 6 with Chidi as guardian, Cleo was in 6A (she
# has left since), and Tess taught 7B.
LAST_TERM = {
    "orgs.csv": ORGS,
    "classes.csv": f"""{CLASSES_HEADER}
cls-7b,,,7B,07,,7B,homeroom,,sch-1,,,,
cls-6a,,,6A,06,,6A,homeroom,,sch-1,,,,
""",
    "users.csv": f"""{USERS_HEADER}
stu-2,,,true,sch-1,student,ben,,Benjamin,Okafor,,,,,,,06,
stu-9,,,true,sch-1,student,cleo,,Cleo,Park,,,,,,,06,
par-2,,,true,sch-1,guardian,chidi,,Chidi,Okafor,,,chidi@example.org,,,stu-2,,
tea-1,,,true,sch-1,teacher,tess,,Tess,Teacher,,,teacher@example.org,,,,,
""",
    "enrollments.csv": f"""{ENROLLMENTS_HEADER}
enr-3,,,cls-7b,sch-1,stu-2,student,false,,
enr-9,,,cls-6a,sch-1,stu-9,student,false,,
enr-4,,,cls-7b,sch-1,tea-1,teacher,true,,
""",
}
# This term's export (tests/consent/roster_sets.py): the four files of issue 16, no demographics.
THIS_TERM = oneroster(demographics="")


@pytest.fixture
def last_term(school: Organization) -> Organization:
    """The school as last term's import left it (previewed and confirmed, as the pages do),
    with Tess, the teacher the files name (teacher@example.org), linked to 7B by it."""
    make_staff(school, Role.TEACHER, "teacher")
    files = {name: text.encode() for name, text in LAST_TERM.items()}
    plan = plan_roster(school, files)
    assert plan.errors == []
    apply_roster(AuditContext.system(school, "admin (last term)"), files, reviewed=plan.token)
    return school


@pytest.fixture
def ines(last_term: Organization, settings: Any) -> StaffMember:
    """The school's admin, who signs in with a local password."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    return make_staff(last_term, Role.ADMIN, "ines")


def cells(page: Any, table: Any) -> list[list[str]]:
    """The body rows of ``table`` (a locator), as lists of cell texts."""
    rows = table.locator("tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def section(page: Any, title: str) -> list[list[str]]:
    """The rows the preview lists under the heading ``title`` ("Students: change (1)")."""
    return cells(page, page.locator(f'h2:text-is("{title}") + table.roster-rows'))


def test_admin_imports_this_terms_oneroster_files_then_a_counselor_signs_in_through_the_idp(
    live_server: Any,
    page: Any,
    last_term: Organization,
    ines: StaffMember,
    dana: StaffMember,
    issuer: LocalIssuer,
) -> None:
    school = last_term
    base = live_server.url
    # given the admin signed in and opened the roster import from the participants page
    sign_in(page, base, "ines", PASSWORD)
    page.locator("header nav a", has_text="Participants").click()
    page.wait_for_url(f"{base}/consent/participants/")
    page.get_by_role("link", name="Import a roster").click()
    page.wait_for_url(f"{base}/consent/roster/")

    # when they choose this term's four OneRoster CSV files, one by one, and ask for a preview
    assert sorted(THIS_TERM) == ["classes.csv", "enrollments.csv", "orgs.csv", "users.csv"]
    uploads = [{"name": n, "mimeType": "text/csv", "buffer": b} for n, b in THIS_TERM.items()]
    page.set_input_files("input[name=roster]", files=uploads)
    page.get_by_role("button", name="Preview the import").click()
    page.wait_for_load_state("load")

    # then the preview counts, per kind, what will be created, changed, left unchanged and left
    # alone, and lists each record with what changes in it
    assert page.get_by_role("heading", name="Roster import: preview").is_visible()
    assert "Nothing has been saved yet" in page.locator("main").inner_text()
    assert "No consent is created by an import" in page.locator("p.consent-note").inner_text()
    counts = page.locator("table.roster-counts")
    head = counts.locator("thead th").all_inner_texts()
    assert head == ["", "Create", "Change", "Unchanged", "Left alone"]
    kinds = counts.locator("tbody th").all_inner_texts()
    assert kinds == ["Classrooms", "Students", "Guardians", "Staff links"]
    assert cells(page, counts) == [
        ["1", "0", "1", "1"],  # Art 7 new; 7B as it was; 6A not in the files
        ["1", "1", "0", "1"],  # Ada new; Ben renamed and moved up; Cleo not in the files
        ["2", "0", "1", "0"],  # Anne (Ada's row) and Ngozi (Ben's row) new; Chidi as he was
        ["0", "0", "1", "0"],  # Tess still teaches 7B
    ]
    notes = page.locator("ul.roster-notes li").all_inner_texts()
    assert notes == ["No demographics.csv: ages are left as they are on record."]
    assert section(page, "Classrooms: create (1)") == [["Art 7", "cls-art", ""]]
    assert section(page, "Classrooms: left alone (1)") == [["6A", "cls-6a", "not in the files"]]
    assert section(page, "Students: create (1)") == [["Ada Lovelace", "stu-1", ""]]
    assert section(page, "Students: change (1)") == [
        [
            "Ben Okafor",
            "stu-2",
            "full_name: Benjamin Okafor → Ben Okafor; grade: 06 → 07",
        ]
    ]
    assert section(page, "Students: left alone (1)") == [["Cleo Park", "stu-9", "not in the files"]]
    assert section(page, "Guardians: create (2)") == [
        ["Anne Lovelace (parent) of Ada Lovelace", "stu-1→par-1", ""],
        ["Ngozi Okafor (relative) of Ben Okafor", "stu-2→par-3", ""],
    ]
    # and nothing is saved before the admin confirms
    assert not Participant.objects.filter(organization=school, source_id="stu-1").exists()
    assert Participant.objects.get(organization=school, source_id="stu-2").full_name == (
        "Benjamin Okafor"
    )
    screenshot(page, "walkthrough-roster-1-preview")

    # when they confirm the import
    page.get_by_role("button", name="Import: 5 records to create or change").click()
    page.wait_for_url(f"{base}/consent/participants/")

    # then the participants page says what was done, and lists the new term's students beside
    # Cleo (an import never deletes), none of them with consent
    assert page.locator("p.message").inner_text() == (
        "Roster imported: classrooms 1 created, 0 changed; students 1 created, 1 changed; "
        "guardians 2 created, 0 changed. No consent was recorded."
    )
    rows = page.locator("table.data tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names == ["Ada Lovelace", "Ben Okafor", "Cleo Park"]
    assert page.locator("table.data tbody td .ok").count() == 0  # no scope active for anyone
    assert not ConsentRecord.objects.filter(participant__organization=school).exists()
    ben = Participant.objects.get(organization=school, source_id="stu-2")
    assert sorted(ben.classrooms.values_list("name", flat=True)) == ["7B"]
    assert sorted(Guardian.objects.filter(participant=ben).values_list("source_id", flat=True)) == [
        "par-2",
        "par-3",
    ]
    assert AuditEvent.objects.filter(organization=school, action="roster.import").count() == 2
    screenshot(page, "walkthrough-roster-2-imported")

    # given the admin puts Ada on Dana's caseload (the participants API, from the same browser
    # session and its CSRF token) and signs out
    ada = Participant.objects.get(organization=school, source_id="stu-1")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    answer = page.request.post(
        f"{base}/api/participants/{ada.pk}/caseload/",
        data={"counselor": dana.pk},
        headers={"X-CSRFToken": token, "Referer": f"{base}/consent/participants/"},
    )
    assert answer.status == 201, answer.text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert page.locator("header .who").count() == 0

    # when the counselor uses the school's provider on the sign-in page
    page.goto(f"{base}/accounts/login/")
    screenshot(page, "walkthrough-roster-3-sign-in-page")
    page.get_by_role("link", name="Sign in with Northside Accounts").click()
    page.wait_for_load_state("load")

    # then the browser went to the provider and back, and Dana is on her caseload as herself,
    # with the student just imported on it (and nobody else)
    assert "/authorize" in issuer.requests_seen and "/token" in issuer.requests_seen
    assert page.url == f"{base}/"
    assert page.get_by_role("heading", name="My caseload").count() == 1
    assert (
        page.locator("header .who").inner_text().startswith("dana · Counselor · Northside School")
    )
    caseload = page.locator("table.caseload tbody tr")
    assert [caseload.nth(i).locator("td").first.inner_text() for i in range(caseload.count())] == [
        "Ada Lovelace"
    ]
    assert AuditEvent.objects.get(action="sign_in.oidc").actor == dana.user
    screenshot(page, "walkthrough-roster-4-counselor-caseload")
