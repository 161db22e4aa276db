"""Reading the time series: a participant's series and a class session's summary.

Means are computed from the stored sums (mean = sum / n), so every resolution is exact. Class
summaries never carry per-student numbers, and groups smaller than the organization's
min_group_size are suppressed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncHour

from capture.models import SUM_FIELDS, ClassSession, DailyRollup, MinuteAggregate
from inference.model_manifest import CANONICAL_CLASSES, NEGATIVE_CLASSES
from wellbeing.models import Participant

Resolution = Literal["minute", "hour", "day"]
SUMMED = ("n", *SUM_FIELDS, "engaged_n", "engagement_known_n", "quality_sum")
MAX_SPAN = {
    "minute": dt.timedelta(days=7),
    "hour": dt.timedelta(days=93),
    "day": dt.timedelta(days=800),
}
DEFAULT_SPAN = {
    "minute": dt.timedelta(days=1),
    "hour": dt.timedelta(days=7),
    "day": dt.timedelta(days=90),
}


class SeriesRangeError(ValueError):
    """The requested from/to range is empty or longer than the resolution allows."""


def describe_sums(row: Mapping[str, Any]) -> dict[str, Any]:
    """n, mean probabilities, dominant emotion, negative share, engagement of summed rows."""
    n = int(row["n"] or 0)
    means = {name: round((row[f"s_{name}"] or 0.0) / max(n, 1), 4) for name in CANONICAL_CLASSES}
    known = int(row["engagement_known_n"] or 0)
    return {
        "n": n,
        "mean": means,
        "dominant": max(CANONICAL_CLASSES, key=lambda name: means[name]) if n else None,
        "negative_share": round(sum(means[name] for name in NEGATIVE_CLASSES), 4),
        "engagement": round(int(row["engaged_n"] or 0) / known, 4) if known else None,
        "mean_quality": round((row["quality_sum"] or 0.0) / max(n, 1), 4),
    }


def sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in SUMMED}


def check_range(resolution: Resolution, start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise SeriesRangeError("'from' must be before 'to'.")
    if end - start > MAX_SPAN[resolution]:
        days = MAX_SPAN[resolution].days
        raise SeriesRangeError(f"At {resolution} resolution ask for at most {days} days.")


def participant_series(
    participant: Participant, resolution: Resolution, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Points ``{"t", "n", "mean", ...}`` in time order; start inclusive, end exclusive."""
    check_range(resolution, start, end)
    tz = participant.organization.tzinfo
    if resolution == "day":
        rows: Iterable[Mapping[str, Any]] = (
            DailyRollup.objects.filter(
                participant=participant,
                day__gte=start.astimezone(tz).date(),
                day__lt=end.astimezone(tz).date() + dt.timedelta(days=1),
            )
            .values("day", *SUMMED)
            .order_by("day")
        )
        return [{"t": row["day"].isoformat(), **describe_sums(row)} for row in rows]
    minutes = MinuteAggregate.objects.filter(
        participant=participant, minute__gte=start, minute__lt=end
    )
    # Minutes of overlapping sessions (rare) are merged: the series is per participant.
    bucket = TruncHour("minute", tzinfo=tz) if resolution == "hour" else F("minute")
    grouped = minutes.annotate(t=bucket).values("t").annotate(**sums()).order_by("t")
    return [{"t": row["t"].astimezone(tz).isoformat(), **describe_sums(row)} for row in grouped]


def session_summary(session: ClassSession, min_group_size: int) -> dict[str, Any]:
    """Class-level summary of a session: totals and per-minute class means, no student data."""
    minutes = MinuteAggregate.objects.filter(session=session)
    totals = minutes.aggregate(**sums(), participants=Count("participant", distinct=True))
    suppressed = (totals["participants"] or 0) < max(min_group_size, 1)
    per_minute = (
        minutes.values("minute")
        .annotate(**sums(), participants=Count("participant", distinct=True))
        .order_by("minute")
    )
    return {
        "session": session.pk,
        "status": session.status,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "frames_processed": session.frames_processed,
        "frames_dropped": session.frames_dropped,
        "unknown_faces": session.unknown_faces,
        "not_assessable_faces": session.not_assessable_faces,
        "participants_observed": totals["participants"] or 0,
        "suppressed": suppressed,
        "min_group_size": min_group_size,
        "totals": None if suppressed else describe_sums(totals),
        "minutes": [
            {
                "t": row["minute"].isoformat(),
                "participants": row["participants"],
                **(
                    {"suppressed": True}
                    if row["participants"] < max(min_group_size, 1)
                    else {"suppressed": False, **describe_sums(row)}
                ),
            }
            for row in per_minute
        ],
    }
