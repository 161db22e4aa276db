from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from wellbeing.demo_school import is_demo_school
from wellbeing.models import staff_of


def staff_context(request: HttpRequest) -> dict[str, Any]:
    """Expose the signed-in user's StaffMember (or None) to templates as ``staff``, and
    ``synthetic_demo`` (True on every page of the demo school, whose data is generated)."""
    staff = staff_of(request.user)
    return {
        "staff": staff,
        "synthetic_demo": staff is not None and is_demo_school(staff.organization),
    }
