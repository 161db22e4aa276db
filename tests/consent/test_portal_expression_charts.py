"""Expression charts in the family portal: off unless a school admin turns them on (audited);
then a guardian sees their own child's stored daily expression shares, the same numbers the
day totals hold, and nobody else's; staff other than admins cannot change the switch."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from capture.models import DailyRollup
from inference.model_manifest import CANONICAL_CLASSES
from tests.conftest import login
from tests.consent.conftest import ask_for_link, portal_client, portal_token_in
from tests.factories import grant_consent, make_participant
from tests.time_series import add_rollup, probs
from wellbeing.models import AuditEvent, Guardian, Organization, Participant, StaffMember

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]
SWITCH = "/consent/rules/portal-charts/"
LINK_ID = 'id="expression-charts-link"'


def charts_url(participant: Participant) -> str:
    return f"/portal/students/{participant.pk}/charts/"


def chart_json(page: str) -> dict[str, Any]:
    """The page's json_script block for dashboard/student.js."""
    match = re.search(r'<script id="student-chart-data" type="application/json">(.*?)</script>',
                      page, re.S)  # fmt: skip
    assert match, "no chart data on the page"
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def shows_charts(school: Organization) -> bool:
    school.refresh_from_db()
    return school.portal_shows_expression_charts


def test_by_default_the_portal_shows_no_charts_and_has_no_chart_page(
    school: Organization, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a school that never touched the switch, and stored numbers of the guardian's child
    grant_consent(student, guardian)
    add_rollup(student, dt.date(2026, 3, 2), probs(happy=0.6))
    client = portal_client("parent@example.org")
    # when the guardian opens their child's page and the chart page's address
    page = client.get(f"/portal/students/{student.pk}/").content.decode()
    response = client.get(charts_url(student))
    # then the page says why there are no charts, links to none, and the chart page is not found
    assert not shows_charts(school)
    assert "No expression charts are shown here" in page and LINK_ID not in page
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="portal.charts").exists()


def test_an_admin_turns_charts_on_and_a_guardian_sees_their_childs_stored_days(
    school: Organization, other_school: Organization, admin: StaffMember, student: Participant,
    guardian: Guardian, notice: Any,
) -> None:  # fmt: skip
    # given stored day totals of the guardian's child on two days with a day without data
    # between them, and of a stranger's child and of the guardian's child at another school
    grant_consent(student, guardian)
    first, last = dt.date(2026, 3, 2), dt.date(2026, 3, 4)
    add_rollup(student, first, probs(happy=0.5, neutral=0.3), n=120)
    add_rollup(student, last, probs(sad=0.4, angry=0.1), n=90)
    stranger = make_participant(school, "Cy Stranger")
    add_rollup(stranger, first, probs(fear=0.9))
    elsewhere = make_participant(other_school, "Dee Elsewhere")
    Guardian.objects.create(participant=elsewhere, name="Sam Parent", relation="parent",
                            email="parent@example.org")  # fmt: skip
    other_school.portal_shows_expression_charts = True
    other_school.save()
    # when the admin turns the switch on, on the consent rules page
    staff_client = login(admin)
    rules_page = staff_client.get("/consent/rules/").content.decode()
    assert "Expression charts in the family portal" in rules_page
    response = staff_client.post(SWITCH, {"show": "on"})
    # then the school shows charts, and the change is audited with the value before and after
    assert response.status_code == 302 and shows_charts(school)
    event = AuditEvent.objects.get(action="school.update")
    assert event.organization == school and event.actor_label.startswith("admin")
    assert event.detail["before"] == {"portal_shows_expression_charts": False}
    assert event.detail["after"] == {"portal_shows_expression_charts": True}
    # when the guardian signs in (at this school: the other school e-mails its own link)
    client = Client()
    ask_for_link(client, "parent@example.org")
    [here] = [m for m in mail.outbox if f"portal of {school.name}." in m.body]
    client.post(f"/portal/link/{portal_token_in(here)}/")
    page = client.get(f"/portal/students/{student.pk}/").content.decode()
    charts = client.get(charts_url(student))
    # then their child's page links to the chart, which shows the caveat and the stored days
    assert LINK_ID in page and charts_url(student) in page
    assert charts.status_code == 200
    body = charts.content.decode()
    assert "never a diagnosis" in body and "Expressions are not feelings" in body
    assert 'id="timeline-chart"' in body and "dashboard/vendor/chart.umd.min.js" in body
    data = chart_json(body)
    assert data["emotions"] == list(CANONICAL_CLASSES) and data["markers"] == []
    assert data["timeline"]["labels"] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    # and each share is the stored day's sum over its observations, in percent, with a gap for
    # the day without data
    for name in CANONICAL_CLASSES:
        stored = [DailyRollup.objects.get(participant=student, day=day) for day in (first, last)]
        expected = [round(getattr(r, f"s_{name}") / r.n * 100, 1) for r in stored]
        assert data["timeline"]["series"][name] == [expected[0], None, expected[1]]
    assert data["timeline"]["series"]["happy"][0] == 50.0
    # and the view is audited as the guardian's, naming the child and the days shown
    seen = AuditEvent.objects.get(action="portal.charts")
    assert seen.participant_pseudonym == student.pseudonym
    assert seen.actor_label == "guardian Sam Parent (family portal)"
    assert seen.detail == {"start": "2026-03-02", "end": "2026-03-04"}
    # and a stranger's child, or their child at the other school, is not found
    for other in (stranger, elsewhere):
        assert client.get(charts_url(other)).status_code == 404
    assert AuditEvent.objects.filter(action="portal.charts").count() == 1


def test_turned_off_again_or_withdrawn_there_is_nothing_to_see(
    school: Organization, admin: StaffMember, student: Participant, guardian: Guardian,
    notice: Any,
) -> None:  # fmt: skip
    # given a school that shows charts, and a child with stored numbers
    grant_consent(student, guardian)
    add_rollup(student, dt.date(2026, 3, 2), probs(happy=0.6))
    staff_client = login(admin)
    staff_client.post(SWITCH, {"show": "on"})
    client = portal_client("parent@example.org")
    assert client.get(charts_url(student)).status_code == 200
    # when the guardian withdraws emotion analysis (which deletes the stored numbers)
    client.post(f"/portal/students/{student.pk}/consent/",
                {"scope": "emotion_analysis", "decision": "refuse"})  # fmt: skip
    page = client.get(charts_url(student)).content.decode()
    # then the chart page has nothing to show, and no chart data
    assert "No expression numbers are stored for Alex Student" in page
    assert 'id="student-chart-data"' not in page
    # when the admin turns the switch off again (an unticked box sends nothing)
    staff_client.post(SWITCH, {})
    # then the link is gone and the page is not found; both changes are audited
    assert not shows_charts(school)
    assert LINK_ID not in client.get(f"/portal/students/{student.pk}/").content.decode()
    assert client.get(charts_url(student)).status_code == 404
    afters = [e.detail["after"] for e in AuditEvent.objects.filter(action="school.update")
              .order_by("pk")]  # fmt: skip
    assert afters == [{"portal_shows_expression_charts": v} for v in (True, False)]


@pytest.mark.parametrize("persona", ["counselor", "teacher"])
def test_only_a_school_admin_changes_the_switch(
    persona: str, school: Organization, counselor: StaffMember, teacher: StaffMember
) -> None:
    staff = {"counselor": counselor, "teacher": teacher}[persona]
    client = login(staff)
    # when a counselor or a teacher tries to turn the charts on, on the page or through the API
    page = client.post(SWITCH, {"show": "on"})
    api = client.patch("/api/school/", json.dumps({"portal_shows_expression_charts": True}),
                       content_type="application/json")  # fmt: skip
    # then both are refused and nothing changes
    assert page.status_code == 403 and api.status_code == 403
    assert not shows_charts(school)
    assert not AuditEvent.objects.filter(action="school.update").exists()


def test_an_admin_can_also_use_the_school_settings_api(admin: StaffMember) -> None:
    client = login(admin)
    assert client.get("/api/school/").json()["portal_shows_expression_charts"] is False
    response = client.patch("/api/school/", json.dumps({"portal_shows_expression_charts": True}),
                            content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and response.json()["portal_shows_expression_charts"]
    assert shows_charts(admin.organization)
    assert AuditEvent.objects.get(action="school.update").detail["after"] == {
        "portal_shows_expression_charts": True}  # fmt: skip
