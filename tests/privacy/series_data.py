"""Write time-series rows directly, as the pipeline would, for privacy tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from capture.models import DailyRollup, MinuteAggregate, Observation, PresenceTally, SessionTotal
from wellbeing.models import ClassSession, Participant

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
