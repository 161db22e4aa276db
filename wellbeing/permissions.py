"""DRF permissions. Object visibility is enforced by QuerySet.visible_to, not here."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from wellbeing.models import Role, staff_of


class IsStaffMember(BasePermission):
    """Any authenticated user with a role in an organization."""

    message = "You need a staff role in a school to use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return staff_of(request.user) is not None


class IsOrgAdmin(BasePermission):
    message = "Only school admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        staff = staff_of(request.user)
        return staff is not None and staff.role == Role.ADMIN
