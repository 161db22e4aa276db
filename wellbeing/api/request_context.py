"""Who is calling: the StaffMember behind a request and the AuditContext the actions need."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from wellbeing.actions import AuditContext
from wellbeing.models import StaffMember, staff_of


def current_staff(request: Request) -> StaffMember:
    """The caller's StaffMember; raises NotAuthenticated (403) for anyone without a role."""
    staff = staff_of(request.user)
    if staff is None:
        raise NotAuthenticated("You need a staff role in a school to use this API.")
    return staff


def audit_context(request: Request) -> AuditContext:
    """AuditContext of the caller; NotAuthenticated (403) for anyone without a staff role."""
    return AuditContext.from_request(request, current_staff(request))
