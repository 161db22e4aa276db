from __future__ import annotations

from typing import Any

import pytest

from alerts.models import Rule
from tests.time_series import make_class
from wellbeing.models import Classroom, Organization, Participant, StaffMember


@pytest.fixture
def notice_published(notice: Any) -> Any:
    return notice


@pytest.fixture
def pupils(
    school: Organization, classroom: Classroom, counselor: StaffMember, notice_published: Any
) -> list[Participant]:
    """Six consented students of 7B, all on the counselor's caseload."""
    return make_class(school, classroom, 6, counselor=counselor)


@pytest.fixture
def negative_rule(school: Organization) -> Rule:
    """The seeded default: negative share, 3 of 5 days, baseline + class comparison."""
    return Rule.objects.current().get(organization=school, slug="sustained-negative")
