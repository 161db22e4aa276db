"""The school settings API shows and changes the two-factor policy, validated and audited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import client_for, patch_json
from wellbeing.models import AuditEvent, StaffMember

URL = "/api/school/"


def test_admin_reads_and_changes_the_policy(admin: StaffMember) -> None:
    client = client_for(admin)
    # given the policy as the API shows it (tests' schools start without a requirement)
    got = client.get(URL).json()
    assert (got["two_factor_roles"], got["two_factor_grace_days"]) == ([], 14)
    # when the admin requires it of every role with 30 days' grace
    response = patch_json(
        client,
        URL,
        {"two_factor_roles": ["admin", "counselor", "teacher"], "two_factor_grace_days": 30},
    )
    # then the answer and the school say so, each role's start is shown, and it is audited
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["two_factor_roles"] == ["admin", "counselor", "teacher"]
    assert body["two_factor_grace_days"] == 30
    assert set(body["two_factor_required_since"]) == {"admin", "counselor", "teacher"}
    event = AuditEvent.objects.get(action="school.two_factor_policy")
    assert event.detail["after"] == {"roles": ["admin", "counselor", "teacher"], "grace_days": 30}
    assert not AuditEvent.objects.filter(action="school.update").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"two_factor_roles": ["student"]}, "two_factor_roles"),
        ({"two_factor_roles": ["admin", "admin"]}, "two_factor_roles"),
        ({"two_factor_roles": "admin"}, "two_factor_roles"),
        ({"two_factor_grace_days": 91}, "two_factor_grace_days"),
        ({"two_factor_grace_days": -1}, "two_factor_grace_days"),
        ({"two_factor_required_since": {"admin": "2020-01-01T00:00:00+00:00"}}, None),
    ],
)
def test_invalid_policies_are_refused(
    admin: StaffMember, change: dict[str, Any], field: str | None
) -> None:
    response = patch_json(client_for(admin), URL, change)
    admin.organization.refresh_from_db()
    assert admin.organization.two_factor_roles == []
    assert admin.organization.two_factor_required_since == {}
    assert not AuditEvent.objects.filter(action="school.two_factor_policy").exists()
    # a read-only field is ignored (nothing to change: 400 naming what may be sent)
    assert response.status_code == 400
    assert field is None or field in response.json()["fields"]


@pytest.mark.parametrize("persona", ["counselor", "teacher"])
def test_only_admins_change_it(persona: str, counselor: StaffMember, teacher: StaffMember) -> None:
    staff = {"counselor": counselor, "teacher": teacher}[persona]
    response = patch_json(client_for(staff), URL, {"two_factor_roles": []})
    assert response.status_code == 403
