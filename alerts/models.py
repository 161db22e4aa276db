"""Alert rules (data, versioned), alerts with their evidence and history, e-mail deliveries.

A rule is a family of versions sharing ``(organization, slug)``; editing a rule creates a new
version (see alerts.workflow.update_rule), so every alert's evidence can cite the exact version
that fired it. At most one *active* (open or acknowledged) alert exists per participant and rule
family: a partial unique constraint enforces it in the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

from wellbeing.models import Organization, Participant, Role, StaffMember, staff_of

if TYPE_CHECKING:
    from wellbeing.models import AnyUser


class SignalKind(models.TextChoices):
    NEGATIVE_SHARE = "negative_share", "Negative-affect share (angry+disgust+fear+sad)"
    EMOTION_SHARE = "emotion_share", "Share of one emotion"
    ENGAGEMENT_DROP = "engagement_drop", "Engagement drop (1 - engaged share)"


class WindowKind(models.TextChoices):
    DAY = "day", "School day"
    SESSION = "session", "Class session"


class Severity(models.TextChoices):
    WATCH = "watch", "Watch"
    NOTIFY = "notify", "Notify"
    URGENT = "urgent", "Urgent"


SEVERITY_RANK = {Severity.WATCH: 0, Severity.NOTIFY: 1, Severity.URGENT: 2}


class RuleMode(models.TextChoices):
    ACTIVE = "active", "Active (raises alerts)"
    DRY_RUN = "dry_run", "Dry run (replay only, raises nothing)"


EMOTION_CHOICES = [
    (name, name.title())
    for name in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
]


class RuleQuerySet(models.QuerySet["Rule"]):
    def current(self) -> RuleQuerySet:
        return self.filter(is_current=True)

    def visible_to(self, user: AnyUser) -> RuleQuerySet:
        staff = staff_of(user)
        if staff is None or staff.role not in (Role.ADMIN, Role.COUNSELOR):
            return self.none()
        return self.filter(organization=staff.organization)


class Rule(models.Model):
    """One version of an alert rule. All signals are oriented so that higher is worse.

    A window (a school day or a class session) is *abnormal* when it has at least
    ``min_minutes`` observed minutes, its value is at least ``threshold``, at least
    ``baseline + baseline_margin`` (when ``baseline_weeks`` > 0 and a baseline exists) and at
    least ``class median + class_margin`` (when ``class_margin`` is set and the class median
    exists). An alert is raised when at least ``persistence_m`` of the last ``persistence_d``
    school days hold an abnormal window; it clears after ``clear_after_days`` observed days
    below ``clear_threshold``; after it closes, no new alert for ``cooldown_days``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="rules")
    slug = models.SlugField(max_length=64, help_text="Stable name shared by all versions.")
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    signal = models.CharField(max_length=24, choices=SignalKind.choices)
    emotion = models.CharField(
        max_length=16, choices=EMOTION_CHOICES, blank=True, help_text="Only for emotion_share."
    )
    window = models.CharField(max_length=16, choices=WindowKind.choices, default=WindowKind.DAY)
    threshold = models.FloatField(help_text="Raise threshold (0..1) on the window value.")
    clear_threshold = models.FloatField(help_text="Clear threshold (0..1), below threshold.")
    baseline_weeks = models.PositiveSmallIntegerField(
        default=4, help_text="Own rolling baseline over this many weeks; 0 turns it off."
    )
    baseline_margin = models.FloatField(default=0.1)
    class_margin = models.FloatField(
        null=True, blank=True, help_text="Must exceed the class median by this; empty = off."
    )
    min_minutes = models.PositiveIntegerField(
        default=20, help_text="Windows with fewer observed minutes do not count at all."
    )
    persistence_m = models.PositiveSmallIntegerField(default=3)
    persistence_d = models.PositiveSmallIntegerField(default=5)
    clear_after_days = models.PositiveSmallIntegerField(default=3)
    cooldown_days = models.PositiveSmallIntegerField(default=14)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.NOTIFY)
    mode = models.CharField(max_length=8, choices=RuleMode.choices, default=RuleMode.DRY_RUN)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = RuleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug", "version"], name="rule_version_unique"
            ),
            models.UniqueConstraint(
                fields=["organization", "slug"],
                condition=models.Q(is_current=True),
                name="rule_one_current_version",
            ),
        ]
        ordering = ["organization", "slug", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class AlertPolicy(models.Model):
    """Per-organization delivery settings: quiet hours (local time) and escalation delay."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="alert_policy"
    )
    quiet_start = models.TimeField(null=True, blank=True, help_text="e.g. 20:00 (local time)")
    quiet_end = models.TimeField(null=True, blank=True, help_text="e.g. 07:00 (local time)")
    urgent_ignores_quiet_hours = models.BooleanField(default=True)
    escalation_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: settings.ALERT_ESCALATION_MINUTES."
    )

    def __str__(self) -> str:
        return f"Alert policy of {self.organization}"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


ACTIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
CLOSED_STATES = (AlertState.RESOLVED, AlertState.DISMISSED)


class AlertQuerySet(models.QuerySet["Alert"]):
    def visible_to(self, user: AnyUser) -> AlertQuerySet:
        """Admins: their organization. Counselors: their caseload. Everyone else: none."""
        staff = staff_of(user)
        if staff is None:
            return self.none()
        return self.visible_to_staff(staff)

    def visible_to_staff(self, staff: StaffMember) -> AlertQuerySet:
        mine = self.filter(organization=staff.organization)
        if staff.role == Role.ADMIN:
            return mine
        if staff.role == Role.COUNSELOR:
            return mine.filter(participant__caseload__counselor=staff).distinct()
        return self.none()

    def active(self) -> AlertQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def by_severity_then_age(self) -> AlertQuerySet:
        """Urgent first, then notify, then watch; oldest first within a severity."""
        rank = models.Case(
            *(models.When(severity=s, then=models.Value(r)) for s, r in SEVERITY_RANK.items()),
            output_field=models.IntegerField(),
        )
        return self.annotate(rank=rank).order_by("-rank", "raised_at", "pk")

    def feedback_by_rule(self) -> dict[str, dict[str, int]]:
        """rule slug -> alerts raised, rated by a counselor, and rated useful (precision)."""
        rows = (
            self.order_by()
            .values("rule_slug")
            .annotate(
                raised=models.Count("pk"),
                rated=models.Count("pk", filter=models.Q(useful__isnull=False)),
                useful=models.Count("pk", filter=models.Q(useful=True)),
            )
        )
        return {row.pop("rule_slug"): row for row in rows}


class Alert(models.Model):
    """A prompt for a counselor to check in with a student, with the evidence that raised it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="alerts")
    rule_slug = models.SlugField(max_length=64, help_text="The rule family (for uniqueness).")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    evidence = models.JSONField(help_text="Rule version, windows, values, baselines, thresholds.")
    window_start = models.DateField()
    window_end = models.DateField(help_text="Last school day of the evidence.")
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="When the signal recovered (hysteresis)."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_reason = models.CharField(max_length=32, blank=True)
    useful = models.BooleanField(null=True, blank=True, help_text="Counselor feedback.")
    useful_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_level = models.PositiveSmallIntegerField(
        default=0, help_text="How many org alert contacts have been told so far."
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "rule_slug"],
                condition=models.Q(state__in=["open", "acknowledged"]),
                name="alert_one_active_per_rule",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "state", "severity"]),
            models.Index(fields=["participant", "rule_slug", "-raised_at"]),
        ]
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} alert #{self.pk} ({self.participant})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class AlertEvent(models.Model):
    """One line of an alert's history: raised, acknowledged, resolved, escalated, cleared..."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24)
    actor = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["alert", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.alert_id} {self.created_at:%Y-%m-%d %H:%M}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"
    CANCELLED = "cancelled", "Cancelled"


class EmailDelivery(models.Model):
    """One e-mail to one address. ``idempotency_key`` is unique: one event, one e-mail each."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, help_text="alert, escalation or digest")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_address = models.EmailField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    not_before = models.DateTimeField(help_text="Quiet hours push this later.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "not_before"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address} ({self.status})"
