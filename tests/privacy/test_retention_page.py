"""The public retention page states each school's own schedule and withdrawal policy."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_organization


@pytest.mark.parametrize("policy", ["delete", "deidentify"])
def test_page_shows_the_schools_own_periods_and_policy(db: object, policy: str) -> None:
    # given a school with its own periods and withdrawal policy
    school = make_organization(
        "Westside",
        raw_observation_days=3,
        minute_aggregate_days=91,
        daily_rollup_days=400,
        alert_days=500,
        audit_days=1200,
        template_days_after_last_seen=200,
        withdrawal_policy=policy,
        transparency_notice="Cameras measure engagement in maths lessons.",
    )
    # when anyone (not signed in) opens its retention page
    response = Client().get(reverse("retention", args=[school.slug]))
    page = response.content.decode()
    # then every period, the template rule, the policy and the notice are stated
    assert response.status_code == 200
    for days in (3, 91, 400, 500, 1200):
        assert f"<td>{days} days</td>" in page
    assert "200 days after the student was last seen or enrolled" in page
    assert ("no longer linked to them" in page) == (policy == "deidentify")
    assert school.transparency_notice in page


def test_unknown_school_is_404(db: object) -> None:
    assert Client().get(reverse("retention", args=["no-such-school"])).status_code == 404
