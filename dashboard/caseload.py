"""The caseload table: who the staff member may see, with status columns, search and sorting.

Status columns are annotations computed in SQL (14-day negative-affect share from DailyRollup,
open alerts when the alerts app exists), so sorting and pagination happen in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce

from capture.models import DailyRollup
from dashboard.alert_feed import open_alerts_filter
from inference.model_manifest import NEGATIVE_CLASSES
from wellbeing.models import Participant, StaffMember

SPARK_DAYS = 14
# In the order of the table columns.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("full_name",),
    "pseudonym": ("pseudonym",),
    "alerts": ("open_alerts", "full_name"),
    "last_seen": ("last_seen_at",),
    "negative": ("negative_14d",),
}


class BadSortError(ValueError):
    """The sort key is not one of SORTS (optionally prefixed with '-')."""


def order_by_for(sort: str) -> list[Any]:
    """ORDER BY expressions for ``sort`` ('name', '-negative', ...); missing values sort last."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        raise BadSortError(f"Unknown sort {sort!r}; use one of {', '.join(SORTS)}.")
    descending = sort.startswith("-")
    fields = [
        F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
        for name in SORTS[key]
    ]
    return [*fields, "pk"]


def negative_share_since(first_day: dt.date) -> Subquery:
    """Observation-weighted negative-affect share since ``first_day`` (NULL without data)."""
    negative = Sum(sum((F(f"s_{name}") for name in NEGATIVE_CLASSES[1:]), F("s_angry")))
    rows = (
        DailyRollup.objects.filter(participant=OuterRef("pk"), day__gte=first_day, n__gt=0)
        .values("participant")
        .annotate(share=negative / Cast(Sum("n"), FloatField()))
        .values("share")
    )
    return Subquery(rows, output_field=FloatField())


def caseload_queryset(
    staff: StaffMember, today: dt.date, query: str = "", sort: str = "name"
) -> QuerySet[Participant]:
    """Participants ``staff`` may see, searched by name or pseudonym, sorted by ``sort``.

    Raises BadSortError for an unknown sort key.
    """
    ordering = order_by_for(sort)
    rows = Participant.objects.visible_to(staff.user)
    if query:
        rows = rows.filter(Q(full_name__icontains=query) | Q(pseudonym__icontains=query))
    first_day = today - dt.timedelta(days=SPARK_DAYS - 1)
    open_alerts = Count("alerts", filter=open_alerts_filter(), distinct=True)
    # visible_to may add DISTINCT (caseload join); annotate after it so counts stay per student.
    return rows.annotate(
        negative_14d=negative_share_since(first_day), open_alerts=Coalesce(open_alerts, 0)
    ).order_by(*ordering)


@dataclass(frozen=True)
class Sparkline:
    """Polyline segments for an inline SVG (gaps where days have no data)."""

    segments: list[str]
    values: list[float | None]
    width: int = 112
    height: int = 24

    @property
    def description(self) -> str:
        known = [v for v in self.values if v is not None]
        if not known:
            return "no data in the last 14 days"
        return (
            f"negative affect over {len(known)} observed days of 14: "
            f"latest {known[-1] * 100:.0f}%, highest {max(known) * 100:.0f}%"
        )


def make_sparkline(values: list[float | None], width: int = 112, height: int = 24) -> Sparkline:
    """Scale shares 0..1 to the box; each run of known days becomes one polyline."""
    step = width / max(len(values) - 1, 1)
    segments: list[str] = []
    current: list[str] = []
    for i, value in enumerate([*values, None]):
        if value is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        current.append(f"{i * step:.1f},{(1 - value) * (height - 2) + 1:.1f}")
    return Sparkline(segments, values, width, height)
