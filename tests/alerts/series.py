"""Writing generated series into capture.DailyRollup (and session totals) for the scenario tests."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Sum

from alerts.rules import EMOTIONS
from capture.models import DailyRollup, MinuteAggregate, SessionTotal
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.models import Classroom, ClassSession, Organization, Participant, StaffMember

START = dt.date(2026, 1, 5)  # a Monday


def school_days(count: int, start: dt.date = START) -> list[dt.date]:
    """``count`` weekdays from ``start``."""
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def make_class(
    org: Organization, classroom: Classroom, size: int, counselor: StaffMember | None = None
) -> list[Participant]:
    """``size`` students in ``classroom`` with active emotion_analysis consent."""
    students = []
    for i in range(size):
        student = make_participant(org, f"Pupil {i}", classroom=classroom, counselor=counselor)
        grant_consent(student, make_guardian(student))
        students.append(student)
    return students


def write_day(
    student: Participant,
    day: dt.date,
    negative: float,
    minutes: int = 45,
    engaged: float = 0.8,
) -> None:
    """One DailyRollup: ``negative`` share as sadness, the rest neutral (6 observations/min)."""
    n = minutes * 6
    DailyRollup.objects.update_or_create(
        participant=student,
        day=day,
        defaults={
            "organization_id": student.organization_id,
            "n": n,
            "s_sad": negative * n,
            "s_neutral": (1 - negative) * n,
            "engaged_n": int(engaged * n),
            "engagement_known_n": n,
            "minutes_observed": minutes,
            "sessions": 1,
        },
    )


def total_minute_rows(session: ClassSession) -> None:
    """The SessionTotal rows of minute rows a test wrote directly (the worker keeps them when
    it stores frames): per participant, their sums, minute count, first minute and its day."""
    summed = ("n", *(f"s_{e}" for e in EMOTIONS), "engaged_n", "engagement_known_n", "quality_sum")
    aggregates = {f"t_{c}": Sum(c) for c in summed}
    groups = (
        MinuteAggregate.objects.filter(session=session)
        .values("organization_id", "participant_id")
        .annotate(**aggregates, minutes=Count("id"), first=Min("minute"))
        .values_list("organization_id", "participant_id", "minutes", "first", *aggregates)
    )
    tz = {o.pk: o.tzinfo for o in Organization.objects.all()}
    SessionTotal.objects.bulk_create(
        SessionTotal(
            organization_id=org, participant_id=pid, session=session, first_minute=first,
            minutes_observed=minutes, day=first.astimezone(tz[org]).date(),
            **dict(zip(summed, sums, strict=True)),
        )
        for org, pid, minutes, first, *sums in groups
    )  # fmt: skip


def write_series(students: list[Participant], days: list[dt.date], negative: float) -> None:
    for student in students:
        for day in days:
            write_day(student, day, negative)
