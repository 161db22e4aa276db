"""Capture: its devices and class sessions, and the emotion and engagement time series of
consented participants. Numbers only, never pictures.

Three resolutions, each with its own retention period (Organization.*_days):

* Observation: one row per recognised participant per processed frame (short retention).
* MinuteAggregate: per participant, class session and minute; sums so that one upsert per
  observation keeps it exact (means = sum / n).
* DailyRollup: per participant and local day (organization time zone), for reports and alerts.
* SessionTotal: per participant and class session, for session-window alert rules (so they
  read one row per session instead of summing its minute rows on every evaluation).
* PresenceTally: per participant and class session, the frames in which a consented participant
  was recognised but their face was too small (or unclear) for an expression. A count and two
  times, no emotion numbers: it is deliberately not an EmotionSums row, so it can never enter
  means, charts or alert rules.

CaptureDevice (a classroom camera or a participant's own laptop, token stored as a hash) and
ClassSession (a lesson during which capture runs) are capture's too. They were the wellbeing
app's until issue 14 and keep their tables (``wellbeing_capturedevice``,
``wellbeing_classsession``): migration capture 0007 moved them in Django's state only.

ProcessedFrame makes frame processing idempotent: its frame_id (device id + sequence number) is
inserted in the same transaction as the observations, so a redelivered or re-sent frame never
produces a second set of rows.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import models

from inference.model_manifest import CANONICAL_CLASSES, NEGATIVE_CLASSES
from wellbeing.models import Classroom, Organization, Participant, Role, staff_of

if TYPE_CHECKING:
    from wellbeing.models import AnyUser

SUM_FIELDS: tuple[str, ...] = tuple(f"s_{name}" for name in CANONICAL_CLASSES)


class CaptureDeviceQuerySet(models.QuerySet["CaptureDevice"]):
    def visible_to(self, user: AnyUser) -> CaptureDeviceQuerySet:
        staff = staff_of(user)
        if staff is None or staff.role != Role.ADMIN:
            return self.none()
        return self.filter(organization=staff.organization)

    def active(self) -> CaptureDeviceQuerySet:
        return self.filter(revoked_at__isnull=True)


class CaptureDevice(models.Model):
    """A classroom camera or a participant's own laptop. Its token is stored only as a hash."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=120)
    classroom = models.ForeignKey(
        Classroom, null=True, blank=True, on_delete=models.CASCADE, related_name="devices"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="devices"
    )
    token_prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    objects = CaptureDeviceQuerySet.as_manager()

    class Meta:
        db_table = "wellbeing_capturedevice"  # the table it always had (see the module docstring)
        constraints = [
            # Exactly one owner: a classroom camera or one participant's own device.
            models.CheckConstraint(
                condition=models.Q(classroom__isnull=False, participant__isnull=True)
                | models.Q(classroom__isnull=True, participant__isnull=False),
                name="device_classroom_or_participant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    ENDED = "ended", "Ended"


class ClassSessionQuerySet(models.QuerySet["ClassSession"]):
    def visible_to(self, user: AnyUser) -> ClassSessionQuerySet:
        """Sessions of classrooms the user may see, and personal-device sessions of participants
        whose individual data the user may see (so never another school's)."""
        if staff_of(user) is None:
            return self.none()
        return self.filter(
            models.Q(classroom__in=Classroom.objects.visible_to(user))
            | models.Q(participant__in=Participant.objects.visible_to(user))
        )


class ClassSession(models.Model):
    """A lesson during which capture may run."""

    # A classroom camera's session has a classroom; a personal device's session (a participant's
    # own laptop) has the participant instead (exactly one of the two, see the constraint).
    classroom = models.ForeignKey(
        Classroom, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions"
    )
    device = models.ForeignKey(
        "CaptureDevice",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
        help_text="the device that started the session",
    )
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    scheduled_start = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Counts only: faces that matched nobody or were not assessable are never stored otherwise.
    unknown_faces = models.PositiveIntegerField(default=0)
    not_assessable_faces = models.PositiveIntegerField(default=0)
    frames_processed = models.PositiveIntegerField(default=0)
    # Frames accepted by ingest that could not be analysed (expired in Redis, undecodable).
    frames_dropped = models.PositiveIntegerField(default=0)

    objects = ClassSessionQuerySet.as_manager()

    class Meta:
        db_table = "wellbeing_classsession"  # the table it always had (see the module docstring)
        indexes = [models.Index(fields=["classroom", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(classroom__isnull=False, participant__isnull=True)
                | models.Q(classroom__isnull=True, participant__isnull=False),
                name="session_classroom_or_participant",
            )
        ]

    def __str__(self) -> str:
        where = self.classroom or self.participant
        return f"{where} {self.started_at or self.scheduled_start or ''}".strip()


class EmotionSums(models.Model):
    """Sums of per-observation probabilities and engagement, shared by the aggregates."""

    n = models.PositiveIntegerField(default=0, help_text="observations counted")
    s_angry = models.FloatField(default=0.0)
    s_disgust = models.FloatField(default=0.0)
    s_fear = models.FloatField(default=0.0)
    s_happy = models.FloatField(default=0.0)
    s_neutral = models.FloatField(default=0.0)
    s_sad = models.FloatField(default=0.0)
    s_surprise = models.FloatField(default=0.0)
    engaged_n = models.PositiveIntegerField(default=0, help_text="observations judged attending")
    engagement_known_n = models.PositiveIntegerField(default=0)
    quality_sum = models.FloatField(default=0.0)

    class Meta:
        abstract = True

    def mean_probs(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {name: getattr(self, f"s_{name}") / n for name in CANONICAL_CLASSES}

    @property
    def negative_share(self) -> float:
        """Mean probability mass of angry + disgust + fear + sad."""
        total: float = sum(getattr(self, f"s_{name}") for name in NEGATIVE_CLASSES)
        return total / max(self.n, 1)

    @property
    def dominant_emotion(self) -> str:
        return max(CANONICAL_CLASSES, key=lambda name: getattr(self, f"s_{name}"))

    @property
    def engagement(self) -> float | None:
        """Share of observations judged attending (a head-pose proxy), None if unknown."""
        if not self.engagement_known_n:
            return None
        return self.engaged_n / self.engagement_known_n


class ProcessedFrame(models.Model):
    frame_id = models.CharField(max_length=80, unique=True, help_text="<device id>:<sequence>")
    session = models.ForeignKey(ClassSession, on_delete=models.CASCADE, related_name="frames")
    captured_at = models.DateTimeField()
    processed_at = models.DateTimeField(auto_now_add=True)
    faces = models.PositiveSmallIntegerField(default=0)
    recognised = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["session", "captured_at"])]

    def __str__(self) -> str:
        return self.frame_id


class Observation(models.Model):
    # No single-column indexes on these two: (organization, captured_at) and (participant,
    # captured_at) start with them, and every index costs the worker's insert of each row.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="observations", db_index=False
    )
    session = models.ForeignKey(ClassSession, on_delete=models.CASCADE, related_name="observations")
    frame_id = models.CharField(max_length=80)
    captured_at = models.DateTimeField()
    p_angry = models.FloatField()
    p_disgust = models.FloatField()
    p_fear = models.FloatField()
    p_happy = models.FloatField()
    p_neutral = models.FloatField()
    p_sad = models.FloatField()
    p_surprise = models.FloatField()
    emotion = models.CharField(max_length=16)
    engaged = models.BooleanField(null=True)
    yaw = models.FloatField(null=True)
    pitch = models.FloatField(null=True)
    quality = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["frame_id", "participant"], name="observation_once_per_frame"
            )
        ]
        indexes = [
            models.Index(fields=["participant", "captured_at"]),
            models.Index(fields=["organization", "captured_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.captured_at:%H:%M:%S} {self.emotion}"


class MinuteAggregate(EmotionSums):
    # No single-column indexes on the foreign keys: the composite indexes below start with each
    # of them and serve the same lookups (and cascades); every index costs each worker write.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="minute_aggregates", db_index=False
    )
    session = models.ForeignKey(
        ClassSession, on_delete=models.CASCADE, related_name="minute_aggregates", db_index=False
    )
    minute = models.DateTimeField(help_text="start of the minute (UTC)")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "session", "minute"], name="minute_aggregate_key"
            )
        ]
        indexes = [
            # A participant's last N days (dashboard, alerts).
            models.Index(fields=["participant", "minute"]),
            # A class session's minutes (live view, class median).
            models.Index(fields=["session", "minute"]),
            models.Index(fields=["organization", "minute"]),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.minute:%Y-%m-%d %H:%M}"


class DailyRollup(EmotionSums):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="daily_rollups"
    )
    day = models.DateField(help_text="local date in the organization's time zone")
    minutes_observed = models.PositiveIntegerField(default=0)
    sessions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "day"], name="daily_rollup_key")
        ]
        indexes = [models.Index(fields=["organization", "day"])]

    def __str__(self) -> str:
        return f"{self.participant} {self.day}"


class SessionTotal(EmotionSums):
    """The sums of one participant's minute aggregates of one class session, kept by the worker
    in the same transaction as the minute row (capture.timeseries), so they are always equal."""

    # organization and participant are served by the indexes below (no single-column ones).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="session_totals", db_index=False
    )
    session = models.ForeignKey(
        ClassSession, on_delete=models.CASCADE, related_name="session_totals"
    )
    first_minute = models.DateTimeField(help_text="the participant's first minute in the session")
    day = models.DateField(help_text="local date of first_minute (organization's time zone)")
    minutes_observed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "session"], name="session_total_key")
        ]
        indexes = [
            # A school's sessions in a date range, oldest first (alert rules, retention purge).
            models.Index(fields=["organization", "first_minute"]),
        ]

    def __str__(self) -> str:
        return f"{self.participant} session {self.session_id}"


class PresenceTallyQuerySet(models.QuerySet["PresenceTally"]):
    def of_participant(self, participant: Participant) -> PresenceTallyQuerySet:
        return self.filter(participant=participant)

    def seen_between(self, start: dt.datetime, end: dt.datetime) -> PresenceTallyQuerySet:
        """Tallies whose sightings overlap [start, end)."""
        return self.filter(first_seen__lt=end, last_seen__gte=start)


class PresenceTally(models.Model):
    """Present, not assessable: one consented participant recognised in
    ``frames_not_assessable`` frames of one class session where no expression could be read
    (face too small or unclear).

    Written by the worker in the frame's storing transaction, after the ProcessedFrame insert
    (capture.timeseries), so a redelivered frame never counts twice. Kept as long as the
    per-minute data (``minute_aggregate_days``, by ``first_seen``), deleted on withdrawal.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="presence_tallies", db_index=False
    )
    session = models.ForeignKey(
        ClassSession, on_delete=models.CASCADE, related_name="presence_tallies"
    )
    first_seen = models.DateTimeField(help_text="capture time of the first such frame")
    last_seen = models.DateTimeField(help_text="capture time of the latest such frame")
    frames_not_assessable = models.PositiveIntegerField(
        default=0, help_text="frames in which recognised but not assessable"
    )

    objects = PresenceTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "session"], name="presence_tally_key")
        ]
        indexes = [
            # A participant's sessions (student page).
            models.Index(fields=["participant", "first_seen"]),
            # A school's tallies by age (retention purge).
            models.Index(fields=["organization", "first_seen"]),
        ]

    def __str__(self) -> str:
        frames = self.frames_not_assessable
        return f"{self.participant} session {self.session_id}: {frames} not assessable"
