"""Which roles may call which API endpoints (object visibility stays in QuerySet.visible_to).

Teachers get 403 on every participant endpoint: they only ever see class-level aggregates, so
an empty list would wrongly suggest the endpoint is meant for them. The 403 does not depend on
the id asked for, so it reveals nothing about which participants exist.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from wellbeing.models import Role, staff_of


class CanSeeIndividuals(BasePermission):
    """Admins and counselors (counselors further limited to their caseload by the queryset)."""

    message = "Teachers see class-level aggregates only, not individual participants."

    def has_permission(self, request: Request, view: Any) -> bool:
        staff = staff_of(request.user)
        return staff is not None and staff.role in (Role.ADMIN, Role.COUNSELOR)
