"""The operator sets up a school and its first admin (``manage.py create_school``).

Idempotent: run again with the same school and admin, it changes nothing and says so. It refuses,
changing nothing, when the school already has a different admin (further staff are invited by
that admin on the Staff page) or the admin's e-mail address already belongs to an account.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import Organization, Role, StaffMember
from wellbeing.refusals import Refused

__all__ = [
    "PasswordRequired",
    "SchoolSetup",
    "SchoolSetupRefused",
    "SchoolWanted",
    "create_school_with_admin",
]

AUDIT_LABEL = "operator (manage.py create_school)"


class SchoolSetupRefused(Refused):
    """The school or its admin cannot be set up as asked; nothing changed."""


class PasswordRequired(SchoolSetupRefused):
    """The admin account must be created and no password was given; nothing changed."""


@dataclass(frozen=True)
class SchoolWanted:
    """The school as the operator describes it (validated by ``Organization.full_clean``)."""

    name: str
    slug: str
    jurisdiction: str
    timezone: str


@dataclass(frozen=True)
class SchoolSetup:
    """What :func:`create_school_with_admin` found or made.

    ``differences`` names the fields of an existing school whose stored value differs from the
    one asked for; they are left unchanged (the operator changes them in Django admin).
    """

    school: Organization
    admin: StaffMember
    school_created: bool
    admin_created: bool
    differences: tuple[str, ...] = ()


def _refusal(error: ValidationError) -> SchoolSetupRefused:
    return SchoolSetupRefused(" ".join(error.messages))


def _create_school(wanted: SchoolWanted) -> Organization:
    school = Organization(
        name=wanted.name.strip(),
        slug=wanted.slug,
        jurisdiction=wanted.jurisdiction,
        timezone=wanted.timezone,
    )
    try:
        school.full_clean()
    except ValidationError as exc:
        raise _refusal(exc) from exc
    school.save()
    record_audit(
        AuditContext.system(school, AUDIT_LABEL),
        "school.create",
        target=school,
        name=school.name,
        jurisdiction=school.jurisdiction,
        timezone=school.timezone,
    )
    return school


def _differences(school: Organization, wanted: SchoolWanted) -> tuple[str, ...]:
    asked = {"name": wanted.name.strip(), "jurisdiction": wanted.jurisdiction}
    asked["timezone"] = wanted.timezone
    return tuple(field for field, value in asked.items() if getattr(school, field) != value)


def _create_admin(school: Organization, name: str, email: str, password: str) -> StaffMember:
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise SchoolSetupRefused(
            f"A user with the e-mail address {email} already exists; give another address."
        )
    user = User(username=email, email=email, first_name=name.strip()[:150])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise _refusal(exc) from exc
    user.set_password(password)
    user.save()
    admin = StaffMember.objects.create(user=user, organization=school, role=Role.ADMIN)
    record_audit(AuditContext.system(school, AUDIT_LABEL), "staff.create_admin", target=admin)
    return admin


def _admin_with_email(school: Organization, email: str) -> tuple[StaffMember | None, list[str]]:
    """The school's admin with this e-mail (or None), and every admin's e-mail address."""
    admins = list(
        StaffMember.objects.filter(organization=school, role=Role.ADMIN).select_related("user")
    )
    for admin in admins:
        if email in (admin.user.email.lower(), admin.user.get_username().lower()):
            return admin, []
    return None, sorted(admin.user.email or admin.user.get_username() for admin in admins)


def create_school_with_admin(
    wanted: SchoolWanted, admin_name: str, admin_email: str, password: str | None
) -> SchoolSetup:
    """Create the school (unless its slug exists) and its admin (unless already its admin).

    The admin signs in with ``admin_email`` (lower-cased, also the username) and ``password``,
    which must pass Django's password validators. ``password`` is needed only when the admin
    account is created: None then raises :class:`PasswordRequired`, so a caller can ask for it
    without holding a lock. Raises :class:`SchoolSetupRefused` (nothing changed) when the school
    has a different admin, the address belongs to another account, or a value is invalid. Every
    creation is audited on the school's trail.
    """
    email = admin_email.strip().lower()
    try:
        with transaction.atomic():
            return _set_up(wanted, admin_name, email, password)
    except IntegrityError as exc:  # the same slug or address created at the same moment
        raise SchoolSetupRefused(
            f"School {wanted.slug!r} or user {email} was created meanwhile; run it again."
        ) from exc


def _set_up(wanted: SchoolWanted, admin_name: str, email: str, password: str | None) -> SchoolSetup:
    school = Organization.objects.select_for_update().filter(slug=wanted.slug).first()
    created = school is None
    school = school or _create_school(wanted)
    differences = () if created else _differences(school, wanted)
    admin, other_admins = _admin_with_email(school, email)
    if admin is not None:
        return SchoolSetup(school, admin, created, False, differences)
    if other_admins:
        raise SchoolSetupRefused(
            f"School {school.slug!r} already exists with another admin "
            f"({', '.join(other_admins)}); nothing changed. That admin invites further staff "
            "on the Staff page."
        )
    if password is None:
        raise PasswordRequired(f"A password is needed to create the admin account {email}.")
    admin = _create_admin(school, admin_name, email, password)
    return SchoolSetup(school, admin, created, True, differences)
