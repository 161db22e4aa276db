"""Build aggregates for dashboard tests: minute rows and daily rollups with known sums.

Each helper writes exactly what the pipeline would store for ``per_minute`` observations per
minute with the given mean probabilities, so tests can compute the expected means by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.utils import timezone

from capture.models import DailyRollup, MinuteAggregate
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.models import Classroom, ClassSession, Participant, SessionStatus


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
    return DailyRollup.objects.create(
        organization_id=participant.organization_id,
        participant=participant,
        day=day,
        minutes_observed=n // 6,
        sessions=1,
        **sums(p, n, engaged, known),
    )


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
