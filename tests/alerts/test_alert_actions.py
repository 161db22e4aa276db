"""One alert-action function (alerts.workflow.apply_alert_action) behind the page and the API."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import Alert, AlertState, Rule
from alerts.workflow import (
    ALERT_ACTIONS,
    AlertWorkflowError,
    UsefulnessMissing,
    apply_alert_action,
)
from tests.api.conftest import client_for, post_json
from tests.conftest import login
from tests.factories import grant_consent, make_guardian
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant, StaffMember
from wellbeing.refusals import NotYours, Refused

JSON = {"Accept": "application/json"}


@pytest.fixture
def alert(school: Organization, student: Participant, notice: Any) -> Alert:
    """An open alert for the counselor's consented student."""
    grant_consent(student, make_guardian(student))
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    return Alert.objects.create(
        organization=school, participant=student, rule=rule, rule_slug=rule.slug,
        severity="notify", evidence={}, window_start="2026-02-02", window_end="2026-02-06",
        raised_at="2026-02-06T16:00:00Z",
    )  # fmt: skip


def _ctx(staff: StaffMember) -> AuditContext:
    return AuditContext(staff.organization, staff.user, f"{staff.user.username} ({staff.role})")


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("acknowledge", AlertState.ACKNOWLEDGED),
        ("resolve", AlertState.RESOLVED),
        ("dismiss", AlertState.DISMISSED),
    ],
)
def test_each_action_moves_the_alert(
    action: str, state: str, alert: Alert, counselor: StaffMember
) -> None:
    # when the caseload counselor applies the action
    changed = apply_alert_action(_ctx(counselor), counselor, alert, action, "seen")
    # then the alert is in the action's state
    assert changed.state == state and Alert.objects.get(pk=alert.pk).state == state


def test_rating_needs_the_usefulness_answer(alert: Alert, counselor: StaffMember) -> None:
    # when rating without saying whether it was useful
    with pytest.raises(UsefulnessMissing):
        apply_alert_action(_ctx(counselor), counselor, alert, "rate")
    # then nothing was rated; with the answer it is
    assert Alert.objects.get(pk=alert.pk).useful is None
    rated = apply_alert_action(_ctx(counselor), counselor, alert, "rate", useful=True)
    assert rated.useful is True


def test_unknown_action_and_foreign_staff_are_refused(
    alert: Alert, counselor: StaffMember, other_admin: StaffMember
) -> None:
    # when the action is not one of ALERT_ACTIONS / the actor is of another school
    with pytest.raises(AlertWorkflowError, match="Unknown alert action"):
        apply_alert_action(_ctx(counselor), counselor, alert, "escalate")
    with pytest.raises(NotYours):
        apply_alert_action(_ctx(other_admin), other_admin, alert, "acknowledge")
    # then both are refusals and the alert is still open
    assert issubclass(AlertWorkflowError, Refused) and "escalate" not in ALERT_ACTIONS
    assert Alert.objects.get(pk=alert.pk).state == AlertState.OPEN


def test_page_and_api_refuse_the_same_transition(alert: Alert, counselor: StaffMember) -> None:
    # given the alert was resolved
    apply_alert_action(_ctx(counselor), counselor, alert, "resolve")
    # when the page and the API both try to acknowledge it
    page = login(counselor).post(f"/alerts/{alert.pk}/acknowledge/", {"note": ""}, headers=JSON)
    api = post_json(client_for(counselor), f"/api/alerts/{alert.pk}/acknowledge/", {})
    # then both refuse with the workflow's one reason
    reason = page.json()["error"]
    assert page.status_code == 400 and reason.startswith("Cannot") and "resolved" in reason
    assert api.status_code == 400
    assert api.json() == {"error": "alert_refused", "detail": reason}


def test_rating_without_usefulness_keeps_each_channels_words(
    alert: Alert, counselor: StaffMember
) -> None:
    # when the page and the API rate without an answer
    page = login(counselor).post(f"/alerts/{alert.pk}/rate/", {"note": ""}, headers=JSON)
    api = post_json(client_for(counselor), f"/api/alerts/{alert.pk}/feedback/", {})
    # then the page names its choice and the API its JSON field, as before
    assert page.json() == {"ok": False, "error": "Choose whether the alert was useful."}
    assert api.status_code == 400
    assert api.json() == {"error": "alert_refused", "detail": "Send useful: true or false."}


def test_refusal_names_the_action_in_plain_words(alert: Alert, counselor: StaffMember) -> None:
    # given an alert that is already resolved
    apply_alert_action(_ctx(counselor), counselor, alert, "resolve", "done")
    # when someone tries to acknowledge it
    with pytest.raises(AlertWorkflowError) as refused:
        apply_alert_action(_ctx(counselor), counselor, alert, "acknowledge", "")
    # then the message uses the verb ("acknowledge", not "acknowledged")
    assert str(refused.value) == "Cannot acknowledge an alert that is resolved."
