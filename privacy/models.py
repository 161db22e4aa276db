"""Erasure requests with a statutory deadline."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone

from capture.models import EmotionSums
from wellbeing.models import Organization, Participant, StaffMember

ERASURE_DEADLINE_DAYS = 30  # GDPR Art. 12(3): one month


def default_due_at() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=ERASURE_DEADLINE_DAYS)


class ErasureStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"


class ErasureRequestQuerySet(models.QuerySet["ErasureRequest"]):
    def open(self) -> ErasureRequestQuerySet:
        return self.filter(status=ErasureStatus.OPEN)

    def overdue(self, now: dt.datetime | None = None) -> ErasureRequestQuerySet:
        return self.open().filter(due_at__lt=now or timezone.now())


class ErasureRequest(models.Model):
    """A request to erase everything held about a participant.

    The participant link is cleared when the erasure is carried out; the pseudonym stays so the
    request (and the audit trail) still say whose data was erased.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="erasure_requests"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    participant_pseudonym = models.CharField(max_length=16)
    requested_by = models.CharField(max_length=200, help_text="Who asked (guardian, student)")
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=default_due_at)
    status = models.CharField(
        max_length=16, choices=ErasureStatus.choices, default=ErasureStatus.OPEN
    )
    handled_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    objects = ErasureRequestQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"erasure {self.participant_pseudonym} ({self.status})"

    @property
    def days_left(self) -> int:
        return (self.due_at - timezone.now()).days


class DeidentifiedDailyTotal(EmotionSums):
    """Day totals of withdrawn participants whose school chose de-identification.

    Rows carry no participant link, only school, grade, day and how many withdrawn people were
    pooled into them. A row pooled from one person is still that person's day to anyone who
    knows who withdrew, so no page shows a row on its own: reports count rows only inside
    grade and whole-school groups, under the same min_group_size suppression as every report
    (dashboard.pooled_totals).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    grade = models.CharField(max_length=32, blank=True)
    day = models.DateField()
    participants = models.PositiveIntegerField(
        default=0,
        help_text="Withdrawn people pooled into this row (0: pooled before this was counted, "
        "so unknown; treated as too few to show).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "grade", "day"], name="deidentified_daily_key"
            )
        ]

    def __str__(self) -> str:
        return f"de-identified {self.organization_id} {self.grade} {self.day}"
