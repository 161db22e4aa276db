"""The audit trail: who acts (:class:`AuditContext`) and the one way to write an event.

Every function that reads or changes a participant's data writes an AuditEvent through
:func:`record_audit`; views never write audit events themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from wellbeing.models import AuditEvent, Organization, Participant, StaffMember, staff_of

if TYPE_CHECKING:
    from rest_framework.request import Request

__all__ = ["AuditContext", "build_audit_event", "record_audit"]


def _origin(request: HttpRequest | Request) -> dict[str, Any]:
    # DRF's Request hands META through to the Django request it wraps.
    return {
        "ip_address": request.META.get("REMOTE_ADDR"),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from where; built once per request (or for a system job)."""

    organization: Organization
    actor: Any = None
    actor_label: str = "system"
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(
        cls, request: HttpRequest | Request, staff: StaffMember | None = None
    ) -> AuditContext:
        """The staff member acting through ``request`` (a page's or the API's), from its address.

        ``staff`` defaults to the signed-in user's StaffMember; pass it when the request is not
        signed in yet (the set-password page). Raises PermissionDenied (403) for a user without
        a staff role, so no event is written without an organization.
        """
        staff = staff or staff_of(request.user)
        if staff is None:
            raise PermissionDenied("Your role does not allow this.")
        # request.user, when it is the member, saves loading the member's user row again.
        user = request.user if request.user.pk == staff.user_id else staff.user
        return cls(
            organization=staff.organization,
            actor=user,
            actor_label=f"{user.get_username()} ({staff.role})",
            **_origin(request),
        )

    @classmethod
    def operator(cls, request: HttpRequest, organization: Organization) -> AuditContext:
        """The site operator (Django admin, across schools) acting on ``organization``'s data."""
        return cls(
            organization=organization,
            actor=request.user,
            actor_label=f"{request.user.get_username()} (operator)",
            **_origin(request),
        )

    @classmethod
    def system(cls, organization: Organization, label: str = "system") -> AuditContext:
        return cls(organization=organization, actor_label=label)


def record_audit(
    ctx: AuditContext,
    action: str,
    *,
    target: Any = None,
    participant: Participant | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event. Never raises for missing optional context."""
    event = build_audit_event(ctx, action, target=target, participant=participant, **detail)
    event.save()
    return event


def build_audit_event(
    ctx: AuditContext,
    action: str,
    *,
    target: Any = None,
    participant: Participant | None = None,
    **detail: Any,
) -> AuditEvent:
    """The event record_audit would append, unsaved: for actions that write many at once
    (``AuditEvent.objects.bulk_create``, e.g. a roster import)."""
    return AuditEvent(
        organization=ctx.organization,
        actor=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
        actor_label=ctx.actor_label,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        participant_pseudonym=participant.pseudonym if participant else "",
        detail=detail,
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent,
    )
