"""Retention periods stay within bounds: the access log at least a year and never shorter than
the data it audits; per-frame readings at least a day and at most a month."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.test import Client

from tests.api.conftest import client_for, patch_json
from tests.otp_codes import login_operator
from wellbeing.actions import AuditContext, update_school_settings
from wellbeing.models import AuditEvent, Organization, StaffMember

URL = "/api/school/"
PERIODS = (
    "raw_observation_days",
    "minute_aggregate_days",
    "daily_rollup_days",
    "alert_days",
    "audit_days",
    "template_days_after_last_seen",
)


def _periods(org: Organization) -> dict[str, int]:
    org.refresh_from_db()
    return {name: getattr(org, name) for name in PERIODS}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"audit_days": 1}, "audit_days", "at least a school year"),
        ({"audit_days": 364}, "audit_days", "between 365 and 3650"),
        ({"raw_observation_days": 0}, "raw_observation_days", "between 1 and 31"),
        ({"raw_observation_days": 32}, "raw_observation_days", "per-minute figures"),
        ({"template_days_after_last_seen": 1096}, "template_days_after_last_seen", "BIPA"),
        ({"minute_aggregate_days": 0}, "minute_aggregate_days", "between 1 and 730"),
        ({"alert_days": 36_500}, "alert_days", "between 1 and 3650"),
    ],
)
def test_api_refuses_periods_out_of_bounds_saying_why(
    admin: StaffMember, change: dict[str, int], field: str, words: str
) -> None:
    before = _periods(admin.organization)
    # when the admin sets a period outside its bounds
    response = patch_json(client_for(admin), URL, change)
    # then 400 names the field and the reason, and nothing changed or was audited
    assert response.status_code == 400, response.content
    assert words in response.json()["fields"][field][0]
    assert _periods(admin.organization) == before
    assert not AuditEvent.objects.filter(action="school.update").exists()


def test_audit_log_may_not_be_shorter_than_the_data_it_audits(admin: StaffMember) -> None:
    client = client_for(admin)
    # given the defaults (audit 1095 days, day totals 730)
    # when the admin keeps day totals longer than the access log
    longer_data = patch_json(client, URL, {"daily_rollup_days": 2000})
    # then it is refused on audit_days, naming the period that outlives it
    assert longer_data.status_code == 400
    assert "daily_rollup_days" in longer_data.json()["fields"]["audit_days"][0]
    # when they shorten the access log below the alerts' period
    shorter_log = patch_json(client, URL, {"audit_days": 700})
    assert shorter_log.status_code == 400
    assert "alert_days" in shorter_log.json()["fields"]["audit_days"][0]
    # when they lengthen both together, it is accepted
    both = patch_json(client, URL, {"daily_rollup_days": 2000, "audit_days": 2000})
    assert both.status_code == 200, both.content
    assert _periods(admin.organization)["audit_days"] == 2000


def test_shortest_allowed_periods_are_accepted(admin: StaffMember) -> None:
    shortest = {name: 1 for name in PERIODS} | {"audit_days": 365}
    # when every period is set to its minimum
    response = patch_json(client_for(admin), URL, shortest)
    # then it is stored as sent
    assert response.status_code == 200, response.content
    assert _periods(admin.organization) == shortest


def test_the_action_refuses_too(school: Organization) -> None:
    # the action validates the model as a whole, whoever calls it
    with pytest.raises(ValidationError) as refused:
        update_school_settings(AuditContext.system(school), audit_days=30)
    assert "audit_days" in refused.value.message_dict
    assert _periods(school)["audit_days"] == 1095


def _operator_on_school_page(school: Organization) -> tuple[Client, str, dict[str, Any]]:
    """A signed-in superuser, the school's Django admin change page and its current form data."""
    operator = login_operator(User.objects.create_superuser("op", "op@example.org", "pw-op-long-1"))
    page = f"/admin/wellbeing/organization/{school.pk}/change/"
    form: dict[str, Any] = {k: v for k, v in model_to_dict(school).items() if v is not None}
    form["alert_contacts"] = json.dumps(school.alert_contacts)
    return operator, page, form


def test_django_admin_shows_a_form_error_and_keeps_the_value(school: Organization) -> None:
    operator, page, form = _operator_on_school_page(school)
    # when the operator sets a one-day access log
    response = operator.post(page, {**form, "audit_days": 1})
    # then the form is shown again with the reason, and the period is unchanged
    assert response.status_code == 200
    assert "at least a school year" in response.content.decode()
    assert _periods(school)["audit_days"] == 1095
    # and a valid change still saves
    assert operator.post(page, {**form, "audit_days": 1200}).status_code == 302
    assert _periods(school)["audit_days"] == 1200


@pytest.mark.parametrize("size", [0, 1, 2])
def test_small_group_suppression_cannot_be_switched_off(school: Organization, size: int) -> None:
    # given a school that hides groups under 5 people
    school.min_group_size = size
    # when the smallest group shown is lowered below 3, validation refuses it with the reason
    with pytest.raises(ValidationError) as refused:
        school.full_clean()
    assert "at least 3" in refused.value.message_dict["min_group_size"][0]


def test_django_admin_refuses_a_group_size_below_the_floor(school: Organization) -> None:
    operator, page, form = _operator_on_school_page(school)
    # when the operator sets groups of one to be shown
    response = operator.post(page, {**form, "min_group_size": 1})
    # then the form comes back with the reason and the stored value is unchanged
    assert response.status_code == 200
    assert "at least 3 people" in response.content.decode()
    school.refresh_from_db()
    assert school.min_group_size == 5
    # and the floor itself is accepted
    assert operator.post(page, {**form, "min_group_size": 3}).status_code == 302
    school.refresh_from_db()
    assert school.min_group_size == 3
