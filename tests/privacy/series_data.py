"""Write time-series rows directly, as the pipeline would, for privacy tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from capture.models import DailyRollup, MinuteAggregate, Observation, SessionTotal
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
    sums = {f"s_{k}": v for k, v in PROBS.items()}
    MinuteAggregate.objects.create(
        organization=participant.organization,
        participant=participant,
        session=session,
        minute=when.replace(second=0, microsecond=0),
        n=1,
        engaged_n=1,
        engagement_known_n=1,
        quality_sum=0.9,
        **sums,
    )
    SessionTotal.objects.create(
        organization=participant.organization,
        participant=participant,
        session=session,
        first_minute=when.replace(second=0, microsecond=0),
        day=when.date(),
        n=1,
        engaged_n=1,
        engagement_known_n=1,
        quality_sum=0.9,
        minutes_observed=1,
        **sums,
    )
    DailyRollup.objects.create(
        organization=participant.organization,
        participant=participant,
        day=when.date(),
        n=1,
        engaged_n=1,
        engagement_known_n=1,
        quality_sum=0.9,
        minutes_observed=1,
        sessions=1,
        **sums,
    )
    return session
