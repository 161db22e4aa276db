"""The one time-series builder of the tests: rows written directly, as the pipeline would store
them, with sums a test can compute by hand.

* ``probs``/``sums``: probabilities per emotion and the sums ``n`` observations with them add;
* ``add_minutes``, ``add_rollup`` (and ``write_day``, a day whose negative share is sadness),
  ``add_series`` (one observation and its minute, session and day totals),
  ``add_presence_tally``, ``total_minute_rows``: the stored numbers;
* ``make_session``, ``make_class``, ``make_alert``, ``school_days``/``weekdays_until``: what
  they hang on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.db.models import Count, Min, Sum
from django.utils import timezone

from alerts.rules import EMOTIONS
from capture.models import (
    ClassSession,
    DailyRollup,
    MinuteAggregate,
    Observation,
    PresenceTally,
    SessionStatus,
    SessionTotal,
)
from inference.model_manifest import CANONICAL_CLASSES
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.models import Classroom, Organization, Participant, StaffMember

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
    add_rollup(student, day, probs(sad=negative, neutral=1 - negative), n, int(engaged * n))


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


def weekdays_until(last: dt.date, count: int) -> list[dt.date]:
    """The ``count`` weekdays up to and including ``last`` (or the Friday before it)."""
    days: list[dt.date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def probs(**shares: float) -> dict[str, float]:
    """Probabilities per emotion; unnamed emotions get an equal part of what is left."""
    rest = [name for name in CANONICAL_CLASSES if name not in shares]
    left = max(1.0 - sum(shares.values()), 0.0)
    return {name: shares.get(name, left / len(rest) if rest else 0.0) for name in CANONICAL_CLASSES}


def sums(p: dict[str, float], n: int, engaged: int, known: int | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {f"s_{name}": p[name] * n for name in CANONICAL_CLASSES}
    fields.update(n=n, engaged_n=engaged, engagement_known_n=n if known is None else known)
    return fields


def make_session(
    classroom: Classroom, start: dt.datetime, status: str = SessionStatus.ENDED, title: str = ""
) -> ClassSession:
    return ClassSession.objects.create(
        classroom=classroom, title=title, status=status, started_at=start
    )


def add_minutes(
    participant: Participant,
    session: ClassSession,
    start: dt.datetime,
    minutes: int,
    p: dict[str, float],
    per_minute: int = 6,
    engaged: int = 6,
) -> list[MinuteAggregate]:
    rows = [
        MinuteAggregate(
            organization_id=participant.organization_id,
            participant=participant,
            session=session,
            minute=start + dt.timedelta(minutes=i),
            **sums(p, per_minute, engaged),
        )
        for i in range(minutes)
    ]
    return MinuteAggregate.objects.bulk_create(rows)


def add_rollup(
    participant: Participant,
    day: dt.date,
    p: dict[str, float],
    n: int = 120,
    engaged: int = 90,
    known: int | None = None,
) -> DailyRollup:
    """The participant's day (replacing one written before): ``n`` observations with mean
    probabilities ``p``, ``engaged`` of them engaged, over ``n // 6`` minutes in one session."""
    rollup, _ = DailyRollup.objects.update_or_create(
        participant=participant,
        day=day,
        defaults={
            "organization_id": participant.organization_id,
            "minutes_observed": n // 6,
            "sessions": 1,
            **sums(p, n, engaged, known),
        },
    )
    return rollup


def make_alert(
    participant: Participant, days: list[dt.date], state: str = "open", **extra: Any
) -> Any:
    """An alert of a fresh rule for ``participant`` with ``days`` as its abnormal evidence days."""
    rule_model = apps.get_model("alerts", "Rule")
    alert_model = apps.get_model("alerts", "Alert")
    slug = f"test-rule-{rule_model.objects.count() + 1}"
    rule = rule_model.objects.create(
        organization=participant.organization,
        slug=slug,
        name=extra.pop("rule_name", "Sustained negative affect"),
        signal="negative_share",
        threshold=0.5,
        clear_threshold=0.3,
        mode="active",
    )
    return alert_model.objects.create(
        organization=participant.organization,
        participant=participant,
        rule=rule,
        rule_slug=slug,
        severity=extra.pop("severity", "notify"),
        state=state,
        evidence={
            "summary": "abnormal on 3 of 5 days",
            "abnormal_days": [d.isoformat() for d in days],
        },
        window_start=min(days),
        window_end=max(days),
        raised_at=extra.pop("raised_at", timezone.now()),
        **extra,
    )


PROBS = {
    "angry": 0.1,
    "disgust": 0.0,
    "fear": 0.1,
    "happy": 0.2,
    "neutral": 0.3,
    "sad": 0.3,
    "surprise": 0.0,
}


def add_series(participant: Participant, when: dt.datetime | None = None) -> ClassSession:
    """One observation, one minute aggregate, its session total and one daily rollup at
    ``when``."""
    when = when or timezone.now()
    classroom = participant.classrooms.first()
    session = ClassSession.objects.create(classroom=classroom, status="ended", started_at=when)
    Observation.objects.create(
        organization=participant.organization,
        participant=participant,
        session=session,
        frame_id=f"1:{when.timestamp()}",
        captured_at=when,
        emotion="sad",
        quality=0.9,
        engaged=True,
        **{f"p_{k}": v for k, v in PROBS.items()},
    )
    # One observation's sums, as the worker keeps them in each of the three aggregate tables.
    one: dict[str, Any] = {
        "organization": participant.organization,
        "participant": participant,
        "n": 1,
        "engaged_n": 1,
        "engagement_known_n": 1,
        "quality_sum": 0.9,
        **{f"s_{k}": v for k, v in PROBS.items()},
    }
    minute = when.replace(second=0, microsecond=0)
    MinuteAggregate.objects.create(session=session, minute=minute, **one)
    SessionTotal.objects.create(
        session=session, first_minute=minute, day=when.date(), minutes_observed=1, **one
    )
    DailyRollup.objects.create(day=when.date(), minutes_observed=1, sessions=1, **one)
    return session


def add_presence_tally(
    participant: Participant, session: ClassSession, when: dt.datetime, frames: int = 12
) -> PresenceTally:
    """The participant present, not assessable in ``frames`` frames of ``session`` over the
    40 minutes from ``when``."""
    return PresenceTally.objects.create(
        organization=participant.organization,
        participant=participant,
        session=session,
        first_seen=when,
        last_seen=when + dt.timedelta(minutes=40),
        frames_not_assessable=frames,
    )
