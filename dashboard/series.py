"""A participant's emotion series for the dashboard, read from aggregates only.

Never touches Observation rows: hours are sums of MinuteAggregate grouped in SQL, days and weeks
come from DailyRollup. Means are ratios of sums (sum of probabilities / observations), so they
stay exact however the buckets are grouped. Local hours and days are in the organization's
time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, TruncHour, TruncWeek

from capture.models import SUM_FIELDS, ClassSession, DailyRollup, MinuteAggregate
from inference.model_manifest import CANONICAL_CLASSES, NEGATIVE_CLASSES
from wellbeing.models import Participant

MAX_RANGE_DAYS = 366
MAX_HOURLY_DAYS = 31
DEFAULT_RANGE_DAYS = 14


class BadRangeError(ValueError):
    """The requested date range is malformed, reversed or too long."""


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of local dates."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes: local midnight of start to local midnight after end."""
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return start, end


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket: observation count, mean probability per emotion, engagement share."""

    label: str
    n: int
    means: dict[str, float]
    negative_share: float | None
    engagement: float | None
    at: dt.datetime | None = None


def parse_date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadRangeError(f"{name} must be a date like 2026-03-01, got {text!r}.") from exc


def parse_date_range(
    start_text: str | None, end_text: str | None, today: dt.date, default_days: int = 14
) -> DateRange:
    """Range from the picker's ?start=&end= (ISO dates); defaults to the last ``default_days``.

    Raises BadRangeError for unparsable dates, end before start or more than MAX_RANGE_DAYS.
    """
    end = parse_date(end_text, "End date") if end_text else today
    start = parse_date(start_text, "Start date") if start_text else None
    start = start or end - dt.timedelta(days=default_days - 1)
    if end < start:
        raise BadRangeError("The end date is before the start date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRangeError(f"Choose a range of at most {MAX_RANGE_DAYS} days.")
    return DateRange(start, end)


def choose_resolution(rng: DateRange, requested: str | None) -> str:
    """'hour' or 'day': hours only for ranges up to MAX_HOURLY_DAYS (else too many points)."""
    if requested == "day" or rng.days > MAX_HOURLY_DAYS:
        return "day"
    if requested == "hour":
        return "hour"
    return "hour" if rng.days <= 7 else "day"


def sum_annotations() -> dict[str, Any]:
    sums: dict[str, Any] = {field: Sum(field) for field in SUM_FIELDS}
    sums.update(n_sum=Sum("n"), engaged=Sum("engaged_n"), known=Sum("engagement_known_n"))
    return sums


def point_from_sums(
    label: str, row: Mapping[str, Any], at: dt.datetime | None = None
) -> SeriesPoint:
    n = int(row.get("n_sum") or 0)
    if n == 0:
        return SeriesPoint(label, 0, {}, None, None, at)
    means = {name: float(row[f"s_{name}"] or 0.0) / n for name in CANONICAL_CLASSES}
    known = int(row.get("known") or 0)
    return SeriesPoint(
        label=label,
        n=n,
        means=means,
        negative_share=sum(means[name] for name in NEGATIVE_CLASSES),
        engagement=int(row.get("engaged") or 0) / known if known else None,
        at=at,
    )


def hour_label(at: dt.datetime) -> str:
    return at.strftime("%a %d %b %H:00")


def with_hour_gaps(points: list[SeriesPoint], tz: dt.tzinfo) -> list[SeriesPoint]:
    """Empty points for the missing hours between two observed hours of the same local day.

    So a chart shows a gap where the student was not observed during a school day, instead of
    joining the hours on either side; nights and days without data are still left out.
    """
    out: list[SeriesPoint] = []
    for point in points:
        previous = out[-1].at if out else None
        if previous is not None and point.at is not None and previous.date() == point.at.date():
            hour = previous
            while (hour := (hour + dt.timedelta(hours=1)).astimezone(tz)) < point.at:
                out.append(SeriesPoint(hour_label(hour), 0, {}, None, None, hour))
        out.append(point)
    return out


def hourly_series(participant: Participant, rng: DateRange, tz: dt.tzinfo) -> list[SeriesPoint]:
    """One point per local hour that has observations (class hours only, no empty nights);
    hours missing between two observed hours of a day are empty points (gaps)."""
    start, end = rng.utc_bounds(tz)
    rows = (
        MinuteAggregate.objects.filter(participant=participant, minute__gte=start, minute__lt=end)
        .annotate(bucket=TruncHour("minute", tzinfo=tz))
        .values("bucket")
        .annotate(**sum_annotations())
        .order_by("bucket")
    )
    points = []
    for row in rows:
        at = row["bucket"].astimezone(tz)
        points.append(point_from_sums(hour_label(at), row, at))
    return with_hour_gaps(points, tz)


def daily_rows(participant: Participant, rng: DateRange) -> QuerySet[DailyRollup]:
    return DailyRollup.objects.filter(
        participant=participant, day__gte=rng.start, day__lte=rng.end, n__gt=0
    ).order_by("day")


def daily_series(participant: Participant, rng: DateRange, tz: dt.tzinfo) -> list[SeriesPoint]:
    """One point per local day of the range; days without data are empty points (gaps)."""
    by_day = {
        row["day"]: row
        for row in daily_rows(participant, rng)
        .values("day", *SUM_FIELDS, "engaged_n", "engagement_known_n")
        .annotate(n_sum=F("n"), engaged=F("engaged_n"), known=F("engagement_known_n"))
    }
    points = []
    for offset in range(rng.days):
        day = rng.start + dt.timedelta(days=offset)
        at = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        points.append(point_from_sums(day.isoformat(), by_day.get(day, {}), at))
    return points


def stored_day_range(participant: Participant) -> DateRange | None:
    """The first to the last local day with a stored day total (DailyRollup) of the
    participant, or None when none is stored: the period their numbers exist for, since
    retention purges older days and a withdrawal deletes (or pools) them all."""
    span = DailyRollup.objects.filter(participant=participant, n__gt=0).aggregate(
        first=Min("day"), last=Max("day")
    )
    if span["first"] is None:
        return None
    return DateRange(span["first"], span["last"])


def weekly_distribution(participant: Participant, rng: DateRange) -> list[SeriesPoint]:
    """Mean emotion shares per ISO week (label = the Monday) within the range."""
    rows = (
        daily_rows(participant, rng)
        .annotate(week=TruncWeek("day"))
        .values("week")
        .annotate(**sum_annotations())
        .order_by("week")
    )
    return [point_from_sums(f"week of {row['week']:%Y-%m-%d}", row) for row in rows]


def range_totals(points: Iterable[SeriesPoint]) -> SeriesPoint:
    """Observation-weighted mean over points (the pie: the whole range)."""
    sums: dict[str, Any] = {f"s_{name}": 0.0 for name in CANONICAL_CLASSES}
    sums["n_sum"] = 0
    for point in points:
        sums["n_sum"] += point.n
        for name, mean in point.means.items():
            sums[f"s_{name}"] += mean * point.n
    return point_from_sums("whole range", sums)


@dataclass(frozen=True)
class Attendance:
    session_id: int
    title: str
    classroom: str
    first_minute: dt.datetime
    last_minute: dt.datetime
    minutes: int
    # Frames in which the student was recognised but not assessable (dashboard.presence).
    frames_not_assessable: int = 0


def sessions_attended(
    participant: Participant, rng: DateRange, tz: dt.tzinfo, limit: int = 20
) -> tuple[int, list[Attendance]]:
    """(class sessions attended in the range, the most recent ``limit`` with their minutes).

    The count is the sum of DailyRollup.sessions (a session running past midnight counts once
    per day). The list probes the (participant, session, minute) index once per candidate
    session, newest first, instead of grouping a year of minute rows.
    """
    start, end = rng.utc_bounds(tz)
    count = daily_rows(participant, rng).aggregate(total=Sum("sessions"))["total"] or 0
    minutes = MinuteAggregate.objects.filter(
        participant=participant, minute__gte=start, minute__lt=end
    )
    recent_ids = list(
        ClassSession.objects.filter(
            Q(classroom__organization_id=participant.organization_id) | Q(participant=participant),
            started_at__lt=end,
        )
        .filter(Exists(minutes.filter(session=OuterRef("pk"))))
        .order_by("-started_at")
        .values_list("pk", flat=True)[:limit]
    )
    grouped = (
        minutes.filter(session_id__in=recent_ids)
        .values("session_id", "session__title", "session__classroom__name")
        .annotate(first=Min("minute"), last=Max("minute"), minutes=Count("id"))
        .order_by("-first")
    )
    recent = [
        Attendance(
            row["session_id"],
            row["session__title"],
            row["session__classroom__name"],
            row["first"].astimezone(tz),
            row["last"].astimezone(tz),
            row["minutes"],
        )
        for row in grouped
    ]
    return count, recent


def negative_sparklines(
    participant_ids: Iterable[int], today: dt.date, days: int = 14
) -> dict[int, list[float | None]]:
    """Daily negative-affect share (0..1, None without data) of the last ``days`` local days."""
    first = today - dt.timedelta(days=days - 1)
    ids = list(participant_ids)
    lines: dict[int, list[float | None]] = {pid: [None] * days for pid in ids}
    negative = sum((F(f"s_{name}") for name in NEGATIVE_CLASSES[1:]), F(f"s_{NEGATIVE_CLASSES[0]}"))
    rows = (
        DailyRollup.objects.filter(participant_id__in=ids, day__gte=first, day__lte=today, n__gt=0)
        .annotate(share=negative / Cast("n", FloatField()))
        .values_list("participant_id", "day", "share")
    )
    for pid, day, share in rows:
        lines[pid][(day - first).days] = float(share)
    return lines
