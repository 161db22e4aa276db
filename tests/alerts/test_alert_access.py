"""Who sees and changes which alert, through the pages and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from alerts.models import Alert, AlertEvent, AlertState, Rule
from tests.conftest import login
from tests.factories import grant_consent, make_guardian, make_staff
from wellbeing.models import AuditEvent, Organization, Participant, Role, StaffMember


@pytest.fixture
def alert(school: Organization, student: Participant, notice: Any) -> Alert:
    """An open alert for the counselor's consented student (as the engine would store it)."""
    grant_consent(student, make_guardian(student))
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    evidence = {
        "summary": "abnormal on 3 of the last 5 school days (rule needs 3 of 5)",
        "rule": {"id": rule.pk, "slug": rule.slug, "version": rule.version},
        "signal": "negative_share",
        "emotion": "",
        "window_kind": "day",
        "thresholds": {"threshold": 0.45, "clear_threshold": 0.35, "min_minutes": 20},
        "baseline": {"weeks": 4, "value": 0.15, "windows": 20, "used": True},
        "school_days": ["2026-02-02", "2026-02-06"],
        "abnormal_days": ["2026-02-02"],
        "windows": [{"day": "2026-02-02", "window": "2026-02-02", "minutes": 45,
                     "value": 0.65, "class_median": 0.15, "abnormal": True, "why": "abnormal"}],
    }  # fmt: skip
    return Alert.objects.create(
        organization=school,
        participant=student,
        rule=rule,
        rule_slug=rule.slug,
        severity="notify",
        evidence=evidence,
        window_start="2026-02-02",
        window_end="2026-02-06",
        raised_at="2026-02-06T16:00:00Z",
    )


def test_counselor_inbox_and_detail_show_evidence_and_human_prompt(
    alert: Alert, counselor: StaffMember
) -> None:
    # when
    client = login(counselor)
    inbox = client.get("/alerts/")
    detail = client.get(f"/alerts/{alert.pk}/")
    # then
    assert inbox.status_code == 200 and f"/alerts/{alert.pk}/" in inbox.content.decode()
    page = detail.content.decode()
    assert "prompt for a human check-in" in page and "0.65" in page and "<img" not in page
    assert AuditEvent.objects.filter(action="alert.view", target_id=str(alert.pk)).exists()


@pytest.mark.parametrize("who", ["teacher", "other_counselor", "other_admin"])
def test_others_cannot_open_the_alert(
    alert: Alert, who: str, teacher: StaffMember, other_school: Organization, school: Organization
) -> None:
    # given
    staff = {
        "teacher": teacher,
        "other_counselor": make_staff(school, Role.COUNSELOR, "counselor2"),
        "other_admin": make_staff(other_school, Role.ADMIN, "admin2"),
    }[who]
    client = login(staff)
    # when
    page = client.get(f"/alerts/{alert.pk}/")
    api = client.get(f"/api/alerts/{alert.pk}/")
    act = client.post(f"/api/alerts/{alert.pk}/acknowledge/", {})
    # then: teachers are refused outright; other caseloads and schools see nothing exists
    expected = 403 if who == "teacher" else 404
    assert (page.status_code, api.status_code, act.status_code) == (expected,) * 3
    assert Alert.objects.get(pk=alert.pk).state == AlertState.OPEN


def test_admin_sees_the_school_alerts_in_the_api(alert: Alert, admin: StaffMember) -> None:
    # when
    response = login(admin).get("/api/alerts/?state=open")
    # then
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [alert.pk]


def test_workflow_through_the_api(alert: Alert, counselor: StaffMember) -> None:
    # given
    client = login(counselor)
    url = f"/api/alerts/{alert.pk}"
    # when: acknowledge, resolve with feedback, reopen without a note, reopen with one
    ack = client.post(f"{url}/acknowledge/", {"note": "Will talk today"}, "application/json")
    again = client.post(f"{url}/acknowledge/", {}, "application/json")
    done = client.post(f"{url}/resolve/", {"note": "Talked", "useful": True}, "application/json")
    no_note = client.post(f"{url}/reopen/", {}, "application/json")
    reopened = client.post(f"{url}/reopen/", {"note": "Worried again"}, "application/json")
    # then
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    assert again.status_code == 400 and "acknowledged" in again.json()["detail"]
    assert done.json()["state"] == "resolved" and done.json()["useful"] is True
    assert no_note.status_code == 400
    assert reopened.json()["state"] == "open"
    kinds = list(AlertEvent.objects.filter(alert=alert).values_list("kind", flat=True))
    assert kinds == ["acknowledged", "resolved", "reopened"]


def test_page_forms_need_csrf_and_record_notes(alert: Alert, counselor: StaffMember) -> None:
    # given: a browser-like client that enforces CSRF
    client = Client(enforce_csrf_checks=True)
    client.force_login(counselor.user)
    # when: a POST without the token, then one with it
    forged = client.post(f"/alerts/{alert.pk}/dismiss/", {"note": "x"})
    client.get(f"/alerts/{alert.pk}/")
    token = client.cookies["csrftoken"].value
    real = client.post(
        f"/alerts/{alert.pk}/dismiss/",
        {"note": "False alarm: exam week", "useful": "no", "csrfmiddlewaretoken": token},
    )
    # then
    assert forged.status_code == 403 and real.status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.DISMISSED and alert.useful is False
    assert alert.events.get(kind="dismissed").note == "False alarm: exam week"


def test_second_active_alert_blocks_reopen(
    alert: Alert, counselor: StaffMember, school: Organization, student: Participant
) -> None:
    # given: the alert was resolved and a new one of the same rule is open
    Alert.objects.filter(pk=alert.pk).update(state=AlertState.RESOLVED)
    newer = Alert.objects.get(pk=alert.pk)
    newer.pk = None
    newer.state = AlertState.OPEN
    newer.save()
    # when
    response = login(counselor).post(
        f"/api/alerts/{alert.pk}/reopen/", {"note": "again"}, "application/json"
    )
    # then
    assert response.status_code == 400 and "already open" in response.json()["detail"]


def test_rule_edit_creates_a_new_version(admin: StaffMember, counselor: StaffMember) -> None:
    # given
    rule = Rule.objects.current().get(organization=admin.organization, slug="sadness")
    # when: an admin edits; a counselor tries; an inconsistent edit is refused
    edited = login(admin).patch(
        f"/api/alert-rules/{rule.pk}/", {"threshold": 0.4, "mode": "active"}, "application/json"
    )
    by_counselor = login(counselor).patch(
        f"/api/alert-rules/{rule.pk}/", {"threshold": 0.1}, "application/json"
    )
    bad = login(admin).patch(
        f"/api/alert-rules/{edited.json()['id']}/", {"clear_threshold": 0.9}, "application/json"
    )
    # then
    assert edited.status_code == 200 and edited.json()["version"] == 2
    assert by_counselor.status_code == 403
    assert bad.status_code == 400 and "hysteresis" in bad.json()["detail"]
    rule.refresh_from_db()
    assert not rule.is_current and rule.threshold == 0.30
    current = Rule.objects.current().get(organization=admin.organization, slug="sadness")
    assert (current.version, current.threshold, current.mode) == (2, 0.4, "active")


def test_teacher_gets_403_on_rules_and_alert_list(teacher: StaffMember, alert: Any) -> None:
    client = login(teacher)
    assert client.get("/api/alerts/").status_code == 403
    assert client.get("/api/alert-rules/").status_code == 403
    assert client.get("/alerts/").status_code == 403


def test_new_school_gets_default_rules(school: Organization) -> None:
    slugs = set(Rule.objects.current().filter(organization=school).values_list("slug", flat=True))
    assert slugs == {"sustained-negative", "persistent-high-negative", "sadness", "engagement-drop"}


def test_inbox_acknowledges_without_a_page_reload(alert: Alert, counselor: StaffMember) -> None:
    # given an open alert on the counselor's caseload
    client = login(counselor)
    assert b"data-inline-action" in client.get("/alerts/").content
    # when the inbox script posts the row's form asking for JSON
    response = client.post(
        f"/alerts/{alert.pk}/acknowledge/", {"note": "seen"}, HTTP_ACCEPT="application/json"
    )
    # then it gets the new state as JSON (no redirect) and the alert is acknowledged
    assert response.status_code == 200 and response.json() == {"ok": True, "state": "Acknowledged"}
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == counselor
    again = client.post(f"/alerts/{alert.pk}/acknowledge/", HTTP_ACCEPT="application/json")
    assert again.status_code == 400 and again.json()["ok"] is False
