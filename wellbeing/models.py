"""Core domain: schools, staff roles, classrooms, participants, audit.

Capture devices and class sessions are capture's (capture.models).

Visibility rules live on the QuerySets (``visible_to``) so every view, API and report gets the
same answer: admins see their organization, counselors their caseload, teachers only class-level
aggregates of their classrooms.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from wellbeing.retention_limits import MIN_GROUP_SIZE_FLOOR, RETENTION_BOUNDS, retention_problems

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone")


class Jurisdiction(models.TextChoices):
    EU = "eu", "European Union (AI Act applies)"
    UK = "uk", "United Kingdom"
    US_IL = "us-il", "United States - Illinois (BIPA)"
    US = "us", "United States - other state"
    OTHER = "other", "Other"


class AgeBand(models.TextChoices):
    """A school-provided age band, for a student whose date and year of birth the school does
    not hold. Only its lower end is relied on (consent.age_rules), which stays true as the
    student grows older."""

    UNDER_13 = "under-13", "Under 13"
    FROM_13_TO_15 = "13-15", "13 to 15"
    FROM_16_TO_17 = "16-17", "16 or 17"
    ADULT = "18-plus", "18 or older"


class EuException(models.TextChoices):
    NONE = "", "None recorded"
    MEDICAL = "medical", "Medical reasons"
    SAFETY = "safety", "Safety reasons"


TWO_FACTOR_MAX_GRACE_DAYS = 90


def default_two_factor_roles() -> list[str]:
    """New schools: admins and counselors (who see individual students) need two-factor."""
    return ["admin", "counselor"]


def two_factor_policy_problems(roles: object, grace_days: int) -> dict[str, str]:
    """What is wrong with a two-factor policy, by field (empty when it is valid)."""
    problems = {}
    known = {"admin", "counselor", "teacher"}
    if not isinstance(roles, list) or not set(roles) <= known or len(set(roles)) != len(roles):
        problems["two_factor_roles"] = "List each of admin, counselor, teacher at most once."
    if not 0 <= grace_days <= TWO_FACTOR_MAX_GRACE_DAYS:
        problems["two_factor_grace_days"] = (
            f"The grace period is 0 to {TWO_FACTOR_MAX_GRACE_DAYS} days."
        )
    return problems


class Organization(models.Model):
    """A school (or district) and the settings that govern its data."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    jurisdiction = models.CharField(max_length=8, choices=Jurisdiction.choices)
    lawful_basis = models.TextField(blank=True)
    eu_exception = models.CharField(
        max_length=16, choices=EuException.choices, blank=True, default=""
    )
    dpia_reference = models.CharField(max_length=200, blank=True)
    transparency_notice = models.TextField(
        default="Emotion analysis is running in this class. Only students whose consent is on "
        "record are analysed; no images are stored. Ask your counselor for details."
    )
    # Retention periods, in days, for each kind of data (purged nightly).
    raw_observation_days = models.PositiveIntegerField(default=7)
    minute_aggregate_days = models.PositiveIntegerField(default=180)
    daily_rollup_days = models.PositiveIntegerField(default=730)
    alert_days = models.PositiveIntegerField(default=730)
    audit_days = models.PositiveIntegerField(default=1095)
    template_days_after_last_seen = models.PositiveIntegerField(default=365)
    alert_contacts = models.JSONField(
        default=list, blank=True, help_text="E-mail addresses for escalations, in order."
    )
    min_group_size = models.PositiveIntegerField(default=5)
    withdrawal_policy = models.CharField(
        max_length=16,
        choices=[
            ("delete", "Delete the person's observations and aggregates"),
            ("deidentify", "Keep day totals, irreversibly de-identified"),
        ],
        default="delete",
        help_text="What happens to a person's stored numbers when consent is withdrawn.",
    )
    email_includes_student_name = models.BooleanField(default=False)
    # Whether the family portal shows a student's guardians (and the student) the daily shares
    # of the seven expressions (dashboard.portal_charts). Off unless the school turns it on:
    # expressions are not feelings, and a chart read without the counselor's context misleads
    # (docs/privacy.md, "The family portal").
    portal_shows_expression_charts = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Show guardians and students the student's daily expression shares in the "
        "family portal.",
    )
    # The school's age-aware consent rules (consent.age_rules holds the presets, their sources
    # and the logic; consent.rule_changes changes them after a review of who gains or loses
    # consent). Blank/null means "the jurisdiction's default preset", filled in when a school
    # is created; "legacy" is what schools that existed before the rules were introduced got.
    consent_rules_preset = models.CharField(max_length=16, blank=True, default="", db_default="")
    student_consent_age = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The age from which a student's own grant suffices (0: at any age).",
    )
    guardian_consent_for_biometrics = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether a guardian's grant is required for the face template of every minor.",
    )
    # Two-factor sign-in policy (wellbeing.two_factor reads it, wellbeing.actions.two_factor
    # changes it). New schools require it of admins and counselors; schools that existed before
    # the policy was introduced got an empty list (migration 0012), so nobody is locked out
    # until their admin decides.
    two_factor_roles = models.JSONField(
        default=default_two_factor_roles,
        blank=True,
        help_text="Staff roles that must sign in with two-factor (admin, counselor, teacher).",
    )
    # {role: ISO instant} when each role's requirement began (absent: the school's creation);
    # staff whose account is older than that get the grace period.
    two_factor_required_since = models.JSONField(default=dict, blank=True)
    two_factor_grace_days = models.PositiveSmallIntegerField(
        default=14,
        help_text="Days existing staff may still sign in without two-factor once it is required.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Retention periods stay within their bounds (wellbeing.retention_limits); the
        two-factor policy names real roles and a grace period of at most 90 days."""
        problems = retention_problems({name: getattr(self, name) for name in RETENTION_BOUNDS})
        problems.update(
            two_factor_policy_problems(self.two_factor_roles, self.two_factor_grace_days)
        )
        if self.min_group_size < MIN_GROUP_SIZE_FLOOR:
            # Below 3, a suppressed report still singles a student out (or, at 1, nothing is
            # suppressed at all): class figures would read as one child's figures.
            problems["min_group_size"] = (
                f"The smallest group shown must be at least {MIN_GROUP_SIZE_FLOOR} people."
            )
        if problems:
            raise ValidationError(problems)

    def capture_block_reason(self) -> str | None:
        """Why capture may not start here, or None when it may (the jurisdiction gate)."""
        if self.jurisdiction == Jurisdiction.EU and not (
            self.eu_exception and self.dpia_reference.strip()
        ):
            return (
                "Emotion recognition in education is prohibited in the EU (AI Act Art. 5(1)(f)) "
                "unless a medical or safety basis and a DPIA reference are recorded."
            )
        return None

    # School days, rollup days, report weeks and quiet hours are all in the school's own time
    # zone; these helpers are the one place that turns instants into school-local days.

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The school's IANA time zone, ``ZoneInfo(self.timezone)``.

        Read from ``timezone`` on every access, so a reassigned ``timezone`` counts at once.
        There is no per-instance cache to go stale: ``ZoneInfo`` keeps one object per key, so
        repeated reads are cheap and return the same object. Raises
        ``zoneinfo.ZoneInfoNotFoundError`` for a name ``validate_timezone`` rejects (possible
        only when ``full_clean`` was skipped).
        """
        return zoneinfo.ZoneInfo(self.timezone)

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The school's calendar date at the instant ``moment``.

        ``moment`` must be aware (any zone); a naive one raises ValueError rather than being
        read as server-local time.
        """
        return timezone.localtime(moment, self.tzinfo).date()

    def local_today(self, now: dt.datetime | None = None) -> dt.date:
        """Today's date in the school's time zone: ``local_date(now or timezone.now())``.

        ``now`` (aware; naive raises ValueError) lets callers and tests fix the instant.
        """
        return self.local_date(now or timezone.now())

    def local_midnight(self, day: dt.date) -> dt.datetime:
        """The aware datetime of 00:00 wall-clock time on ``day`` in the school's time zone.

        ``[local_midnight(d), local_midnight(d + 1 day))`` is the instant range of school day
        ``d``: 23, 24 or 25 hours long across a DST change (measure it after
        ``.astimezone(UTC)``; Python subtracts datetimes of one zone by wall clock). Where a DST
        change skips or repeats midnight, 00:00 is read with fold=0 (PEP 495), which is the
        instant the day really begins.
        """
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tzinfo)


class Role(models.TextChoices):
    ADMIN = "admin", "School admin"
    COUNSELOR = "counselor", "Counselor"
    TEACHER = "teacher", "Teacher"


class StaffMemberQuerySet(models.QuerySet["StaffMember"]):
    def visible_to(self, user: AnyUser) -> StaffMemberQuerySet:
        """Staff records the user may manage: an admin's own school's; nobody else's."""
        staff = staff_of(user)
        if staff is None or staff.role != Role.ADMIN:
            return self.none()
        return self.filter(organization=staff.organization)

    def active(self) -> StaffMemberQuerySet:
        """Not deactivated (an invited member who has not set a password yet counts)."""
        return self.filter(user__is_active=True)

    def can_sign_in(self) -> StaffMemberQuerySet:
        """Active and with a password set: members who could sign in right now."""
        return self.active().exclude(user__password__startswith=UNUSABLE_PASSWORD_PREFIX)


class StaffMember(models.Model):
    """A user's role in one organization. Deactivation is ``user.is_active = False``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=16, choices=Role.choices)
    email_preference = models.CharField(
        max_length=16,
        choices=[("immediate", "Immediate"), ("digest", "Daily digest"), ("none", "Dashboard")],
        default="immediate",
    )

    objects = StaffMemberQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"


def staff_of(user: AnyUser) -> StaffMember | None:
    """The user's StaffMember, or None for anonymous users and users without a role."""
    if not user.is_authenticated:
        return None
    # Cached on the user object: templates, decorators and querysets ask several times a request.
    if not hasattr(user, "_staff_member"):
        found = StaffMember.objects.select_related("organization").filter(user_id=user.pk).first()
        user._staff_member = found  # type: ignore[attr-defined]
    member: StaffMember | None = user._staff_member  # type: ignore[attr-defined]
    return member


class ClassroomQuerySet(models.QuerySet["Classroom"]):
    def visible_to(self, user: AnyUser) -> ClassroomQuerySet:
        staff = staff_of(user)
        if staff is None:
            return self.none()
        mine = self.filter(organization=staff.organization)
        if staff.role == Role.TEACHER:
            return mine.filter(teachers=staff)
        return mine


class FaceDetector(models.TextChoices):
    """Face detector the workers run on a classroom camera's frames (``inference.detection``).

    Measured on hand-labelled group photos (``make bench-classroom``, docs/inference.md):
    ``rfb`` finds faces from ~16 px, faster than HOG on the same photos; ``hog`` stays as a
    legacy choice (faces from ~70 px only). Personal devices use ``rfb``.
    """

    RFB = "rfb", "CNN (faces from ~16 px, back rows included)"
    HOG = "hog", "Legacy HOG (faces from ~70 px only; misses back rows)"


class Classroom(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="classrooms"
    )
    name = models.CharField(max_length=120)
    grade = models.CharField(max_length=32, blank=True)
    teachers = models.ManyToManyField(StaffMember, blank=True, related_name="classrooms")
    detector = models.CharField(
        max_length=16,
        choices=FaceDetector.choices,
        default=FaceDetector.RFB,
        help_text="Which face detector runs on this classroom's camera frames. The CNN finds "
        "faces from about 16 px (the back rows of a large room); legacy HOG only from ~70 px.",
    )
    # The id this record has in the school's roster system (OneRoster ``sourcedId``, or the
    # roster template's id), set by a roster import (consent.roster_import), which finds the
    # record again by it on the next import; blank for records typed in by staff.
    source_id = models.CharField(max_length=255, blank=True, default="", db_default="")

    objects = ClassroomQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="classroom_unique_name"),
            models.UniqueConstraint(
                fields=["organization", "source_id"],
                condition=~models.Q(source_id=""),
                name="classroom_unique_source_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ParticipantQuerySet(models.QuerySet["Participant"]):
    def visible_to(self, user: AnyUser) -> ParticipantQuerySet:
        """Participants whose individual data the user may see.

        Admins: their organization. Counselors: their caseload. Teachers: none (class
        aggregates only). Everyone else: none.
        """
        staff = staff_of(user)
        if staff is None:
            return self.none()
        mine = self.filter(organization=staff.organization)
        if staff.role == Role.ADMIN:
            return mine
        if staff.role == Role.COUNSELOR:
            return mine.filter(caseload__counselor=staff).distinct()
        return self.none()


def new_pseudonym() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(8))


class Participant(models.Model):
    """A student. Everyone but authorised staff sees only the pseudonym."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="participants"
    )
    pseudonym = models.CharField(max_length=16, unique=True, default=new_pseudonym)
    full_name = models.CharField(max_length=200)
    grade = models.CharField(max_length=32, blank=True)
    # What the school knows of the student's age, most precise first (consent.age_rules reads
    # them; an unknown age is treated as below every consent age). Changed through
    # consent.rule_changes, which shows whose consent that changes before it is saved.
    date_of_birth = models.DateField(null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    age_band = models.CharField(
        max_length=8, choices=AgeBand.choices, blank=True, default="", db_default=""
    )
    classrooms = models.ManyToManyField(Classroom, blank=True, related_name="participants")
    # The student's own address, optional: consent requests and the family portal reach a
    # student by it only when the school's rules let the student decide at their age.
    email = models.EmailField(blank=True, default="", db_default="")
    # The roster system's id (see Classroom.source_id).
    source_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "full_name"])]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source_id"],
                condition=~models.Q(source_id=""),
                name="participant_unique_source_id",
            )
        ]

    def __str__(self) -> str:
        return self.pseudonym


class Guardian(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="guardians")
    name = models.CharField(max_length=200)
    relation = models.CharField(max_length=64, help_text="e.g. mother, father, legal guardian")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # The roster system's id (see Classroom.source_id). A roster guardian of two children is
    # two Guardian rows with the same id.
    source_id = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "source_id"],
                condition=~models.Q(source_id=""),
                name="guardian_unique_source_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.relation})"


class CaseloadAssignment(models.Model):
    """A counselor is responsible for a participant."""

    counselor = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="caseload")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="caseload")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["counselor", "participant"], name="caseload_unique")
        ]

    def __str__(self) -> str:
        return f"{self.participant} on the caseload of {self.counselor.user}"

    def clean(self) -> None:
        if self.counselor.role != Role.COUNSELOR:
            raise ValidationError("Only counselors have a caseload.")
        if self.counselor.organization_id != self.participant.organization_id:
            raise ValidationError("Counselor and participant belong to different schools.")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def visible_to(self, user: AnyUser) -> AuditEventQuerySet:
        staff = staff_of(user)
        if staff is None or staff.role != Role.ADMIN:
            return self.none()
        return self.filter(organization=staff.organization)

    def older_than(self, days: int) -> AuditEventQuerySet:
        return self.filter(created_at__lt=timezone.now() - dt.timedelta(days=days))


class AuditEvent(models.Model):
    """Who viewed or changed which participant's data, when and from where.

    The participant is kept as its pseudonym (not a foreign key) so the trail survives erasure.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    participant_pseudonym = models.CharField(max_length=16, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class IdentityProviderKind(models.TextChoices):
    GOOGLE = "google", "Google Workspace"
    ENTRA = "entra", "Microsoft Entra ID"
    GENERIC = "generic", "Other OpenID Connect provider"


class IdentityProviderQuerySet(models.QuerySet["IdentityProvider"]):
    def enabled(self) -> IdentityProviderQuerySet:
        return self.filter(enabled=True).select_related("organization")


class IdentityProvider(models.Model):
    """A school's OpenID Connect provider for staff sign-in (wellbeing.identity_providers).

    It signs in existing staff of its school only, matched by verified e-mail; it never creates
    accounts. The client secret is stored encrypted or named as an environment variable, and no
    page or API shows it back.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="identity_provider"
    )
    kind = models.CharField(max_length=16, choices=IdentityProviderKind.choices)
    display_name = models.CharField(max_length=80, help_text='Shown as "Sign in with …".')
    issuer = models.URLField(max_length=300)
    tenant = models.CharField(max_length=64, blank=True, help_text="Entra directory (tenant) ID")
    client_id = models.CharField(max_length=300)
    client_secret_encrypted = models.TextField(blank=True)
    client_secret_env = models.CharField(max_length=100, blank=True)
    email_domains = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    staff_passwords_allowed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IdentityProviderQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.display_name} ({self.organization})"


# Backup codes are a django-otp device kind of the wellbeing app's own (their codes are stored
# hashed, unlike otp_static's); the models live beside the two-factor code.
from wellbeing.otp_devices import BackupCode, BackupCodeDevice  # noqa: E402

__all__ = ["BackupCode", "BackupCodeDevice"]
