"""Staff management for school admins: invite, change role, deactivate, reactivate.

Every change is audited. Rules that span several rows are checked under a lock on the school's
row, so two admins acting at once cannot both pass them:

- the school keeps at least one admin who can sign in (active, password set);
- a counselor's caseload is never orphaned silently: a counselor who leaves the role
  (deactivation or role change) needs a successor counselor, who takes the caseload over, or an
  explicit choice to leave those students unassigned (only admins then see them).

Refusals raise :class:`StaffRefused` (a plain-words reason, nothing changed); a member or
successor of another school raises NotYours (callers answer 404).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import CaseloadAssignment, Organization, Role, StaffMember
from wellbeing.refusals import NotYours, Refused

log = logging.getLogger(__name__)


class StaffRefused(Refused):
    """The change would break a staffing rule or repeats the current state; nothing changed."""


@dataclass(frozen=True)
class Handover:
    """What happens to the caseload of a counselor who stops being one (one of the two)."""

    successor: StaffMember | None = None
    leave_unassigned: bool = False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_in_use(email: str) -> bool:
    """Whether any account (of any school) has this e-mail address or uses it as username."""
    email = normalize_email(email)
    return User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists()


def display_name(staff: StaffMember) -> str:
    return staff.user.get_full_name() or staff.user.get_username()


def staff_status(staff: StaffMember) -> str:
    """``deactivated``, ``invited`` (no password chosen yet) or ``active``."""
    if not staff.user.is_active:
        return "deactivated"
    return "active" if staff.user.has_usable_password() else "invited"


def _ensure_own(ctx: AuditContext, staff: StaffMember) -> None:
    # Views look members up through visible_to; this guards every other caller too.
    if staff.organization_id != ctx.organization.pk:
        raise NotYours("That staff member belongs to another school.")


def _locked(ctx: AuditContext, staff: StaffMember) -> StaffMember:
    """Lock the school (serialises staff changes) and return a fresh copy of ``staff``."""
    _ensure_own(ctx, staff)
    Organization.objects.select_for_update().filter(pk=ctx.organization.pk).first()
    return StaffMember.objects.select_related("user").get(pk=staff.pk)


def invite_staff(ctx: AuditContext, name: str, email: str, role: str) -> tuple[StaffMember, bool]:
    """Create a member of the actor's school without a password and e-mail a set-password link.

    Returns the member and whether the invitation e-mail went out (when it did not, the member
    exists and :func:`send_invitation` can be retried). The e-mail address becomes the username.
    """
    name, email = name.strip(), normalize_email(email)
    if role not in Role.values or not name or not email:
        raise StaffRefused("Give a name, an e-mail address and one of the roles.")
    try:
        with transaction.atomic():
            if email_in_use(email):
                raise StaffRefused(f"A user with the e-mail address {email} already exists.")
            user = User(username=email, email=email, first_name=name[:150])
            user.set_unusable_password()
            user.save()
            staff = StaffMember.objects.create(user=user, organization=ctx.organization, role=role)
            record_audit(ctx, "staff.invite", target=staff, email=email, role=role)
    except IntegrityError as exc:  # the same address invited at the same moment elsewhere
        raise StaffRefused(f"A user with the e-mail address {email} already exists.") from exc
    return staff, send_invitation(ctx, staff)


def set_password_link(user: User) -> str:
    """Absolute one-time link: valid until the password is set or PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("set_password", kwargs={"uidb64": uid, "token": token})
    return settings.SITE_URL + path


def _invitation_text(staff: StaffMember, link: str) -> str:
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86_400)
    return (
        f"Hello {display_name(staff)},\n\n"
        f"You have been added to {staff.organization.name} on Wellbeing as "
        f"{staff.get_role_display()}. Choose your password here (the link works once, for "
        f"{days} days):\n\n{link}\n\n"
        f"Then sign in with your e-mail address {staff.user.email}.\n"
    )


def send_invitation(ctx: AuditContext, staff: StaffMember) -> bool:
    """E-mail ``staff`` a fresh set-password link; returns whether the mail server took it.

    Refused for a deactivated member and for one who has already chosen a password.
    """
    _ensure_own(ctx, staff)
    staff = StaffMember.objects.select_related("user", "organization").get(pk=staff.pk)
    if not staff.user.is_active:
        raise StaffRefused(f"{display_name(staff)} is deactivated; reactivate them first.")
    if staff.user.has_usable_password():
        raise StaffRefused(f"{display_name(staff)} has already set a password and can sign in.")
    message = _invitation_text(staff, set_password_link(staff.user))
    subject = f"Your {staff.organization.name} Wellbeing account"
    try:
        send_mail(subject, message, None, [staff.user.email])
    except OSError:  # smtplib errors and connection failures
        log.exception("invitation e-mail to staff member %s failed", staff.pk)
        record_audit(ctx, "staff.invitation_failed", target=staff, email=staff.user.email)
        return False
    record_audit(ctx, "staff.invitation_sent", target=staff, email=staff.user.email)
    return True


def _ensure_another_admin(ctx: AuditContext, staff: StaffMember) -> None:
    others = StaffMember.objects.filter(organization=ctx.organization, role=Role.ADMIN)
    if not others.can_sign_in().exclude(pk=staff.pk).exists():
        raise StaffRefused(
            f"{display_name(staff)} is the school's last admin who can sign in; "
            "make someone else an admin first."
        )


def _check_successor(ctx: AuditContext, staff: StaffMember, successor: StaffMember) -> None:
    _ensure_own(ctx, successor)
    active = StaffMember.objects.active().filter(pk=successor.pk, role=Role.COUNSELOR).exists()
    if successor.pk == staff.pk or not active:
        raise StaffRefused("The successor must be another active counselor of your school.")


def _hand_over_caseload(
    ctx: AuditContext, staff: StaffMember, handover: Handover
) -> dict[str, Any]:
    """Move (or drop) ``staff``'s caseload; one audit event per student. Returns audit detail."""
    if handover.successor is not None and handover.leave_unassigned:
        raise StaffRefused("Choose a successor or leave the caseload unassigned, not both.")
    if handover.successor is not None:
        _check_successor(ctx, staff, handover.successor)
    assignments = list(
        CaseloadAssignment.objects.filter(counselor=staff).select_related("participant")
    )
    if not assignments:
        return {}
    if handover.successor is None and not handover.leave_unassigned:
        raise StaffRefused(
            f"{display_name(staff)} has {len(assignments)} students on their caseload: choose "
            "a successor counselor, or choose to leave those students unassigned."
        )
    for assignment in assignments:
        _move_assignment(ctx, assignment, handover.successor)
    successor = handover.successor.user.get_username() if handover.successor else None
    return {"caseload": len(assignments), "successor": successor}


def _move_assignment(
    ctx: AuditContext, assignment: CaseloadAssignment, successor: StaffMember | None
) -> None:
    participant, former = assignment.participant, assignment.counselor.user.get_username()
    if successor is None:
        assignment.delete()
        record_audit(ctx, "caseload.unassign", participant=participant, counselor=former)
        return
    taken = CaseloadAssignment.objects.filter(counselor=successor, participant=participant)
    if taken.exists():  # already on the successor's caseload too
        assignment.delete()
    else:
        assignment.counselor, assignment.assigned_at = successor, timezone.now()
        assignment.save(update_fields=["counselor", "assigned_at"])
    to = successor.user.get_username()
    record_audit(ctx, "caseload.handover", participant=participant, counselor=former, successor=to)


def change_staff_role(
    ctx: AuditContext, staff: StaffMember, role: str, handover: Handover = Handover()
) -> StaffMember:
    """Give ``staff`` another role. A teacher who stops teaching leaves their classrooms; a
    counselor's caseload goes to ``handover``; the last admin who can sign in keeps the role."""
    if role not in Role.values:
        raise StaffRefused(f"Unknown role {role!r}.")
    with transaction.atomic():
        staff = _locked(ctx, staff)
        before = staff.role
        if role == before:
            raise StaffRefused(f"{display_name(staff)} is already {staff.get_role_display()}.")
        if before == Role.ADMIN:
            _ensure_another_admin(ctx, staff)
        detail = _hand_over_caseload(ctx, staff, handover) if before == Role.COUNSELOR else {}
        if before == Role.TEACHER:
            detail["classrooms"] = sorted(staff.classrooms.values_list("name", flat=True))
            staff.classrooms.clear()
        staff.role = role
        staff.save(update_fields=["role"])
        record_audit(ctx, "staff.role_change", target=staff, before=before, after=role, **detail)
    return staff


def deactivate_staff(
    ctx: AuditContext, staff: StaffMember, handover: Handover = Handover()
) -> StaffMember:
    """Stop ``staff`` from signing in (existing sessions end too). A counselor's caseload goes to
    ``handover``; the last admin who can sign in cannot be deactivated."""
    with transaction.atomic():
        staff = _locked(ctx, staff)
        if not staff.user.is_active:
            raise StaffRefused(f"{display_name(staff)} is already deactivated.")
        if staff.role == Role.ADMIN:
            _ensure_another_admin(ctx, staff)
        detail = _hand_over_caseload(ctx, staff, handover) if staff.role == Role.COUNSELOR else {}
        staff.user.is_active = False
        staff.user.save(update_fields=["is_active"])
        record_audit(ctx, "staff.deactivate", target=staff, role=staff.role, **detail)
    return staff


def reactivate_staff(ctx: AuditContext, staff: StaffMember) -> StaffMember:
    """Let a deactivated member sign in again, with their role (a counselor's caseload starts
    empty: it was handed over when they left)."""
    with transaction.atomic():
        staff = _locked(ctx, staff)
        if staff.user.is_active:
            raise StaffRefused(f"{display_name(staff)} is already active.")
        staff.user.is_active = True
        staff.user.save(update_fields=["is_active"])
        record_audit(ctx, "staff.reactivate", target=staff, role=staff.role)
    return staff
