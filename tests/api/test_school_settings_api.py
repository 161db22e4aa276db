"""A school admin manages their own school's settings; nobody else, and never another school."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import client_for, patch_json
from wellbeing.models import AuditEvent, Organization, StaffMember

URL = "/api/school/"


def _settings(org: Organization) -> tuple[Any, ...]:
    org.refresh_from_db()
    return (org.timezone, org.jurisdiction, org.raw_observation_days, org.alert_contacts)


def test_admin_reads_and_changes_own_school_and_it_is_audited(
    admin: StaffMember, other_admin: StaffMember
) -> None:
    school, theirs = admin.organization, other_admin.organization
    their_before = _settings(theirs)
    client = client_for(admin)
    # given the admin reads the settings
    got = client.get(URL).json()
    assert got["slug"] == school.slug and got["timezone"] == "Europe/London"
    # when they change time zone, a retention period and the alert contacts
    change = {
        "timezone": "Europe/Dublin",
        "raw_observation_days": 3,
        "alert_contacts": ["head@example.org", "deputy@example.org"],
    }
    response = patch_json(client, URL, change)
    # then their school has the new values, another school is untouched, and it is audited
    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in change} == change
    assert _settings(school) == ("Europe/Dublin", "uk", 3, change["alert_contacts"])
    assert _settings(theirs) == their_before
    event = AuditEvent.objects.get(action="school.update")
    assert event.organization == school and event.detail["before"]["raw_observation_days"] == 7
    assert event.ip_address == "127.0.0.1"


@pytest.mark.parametrize("persona", ["counselor", "teacher", "anonymous"])
def test_only_admins_may_read_or_change(
    persona: str, counselor: StaffMember, teacher: StaffMember
) -> None:
    staff = {"counselor": counselor, "teacher": teacher, "anonymous": None}[persona]
    client = client_for(staff)
    before = _settings(counselor.organization)
    assert client.get(URL).status_code == 403
    assert patch_json(client, URL, {"raw_observation_days": 1}).status_code == 403
    assert _settings(counselor.organization) == before
    assert not AuditEvent.objects.filter(action="school.update").exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"timezone": "Mars/Olympus_Mons"},
        {"raw_observation_days": 0},
        {"audit_days": -5},
        {"alert_days": "forever"},
        {"alert_contacts": ["not-an-email"]},
        {"alert_contacts": "head@example.org"},
        {"alert_contacts": [f"c{i}@example.org" for i in range(11)]},
    ],
)
def test_malformed_settings_are_refused_and_change_nothing(
    admin: StaffMember, payload: dict[str, Any]
) -> None:
    before = _settings(admin.organization)
    response = patch_json(client_for(admin), URL, payload)
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert response.json()["detail"]
    assert _settings(admin.organization) == before
    assert not AuditEvent.objects.filter(action="school.update").exists()


def test_jurisdiction_and_identity_are_read_only(admin: StaffMember) -> None:
    # the EU gate depends on jurisdiction: an admin cannot switch it off through the API
    response = patch_json(
        client_for(admin), URL, {"jurisdiction": "us", "slug": "hijack", "timezone": "UTC"}
    )
    assert response.status_code == 200
    assert _settings(admin.organization)[:2] == ("UTC", "uk")
    assert admin.organization.slug != "hijack"
