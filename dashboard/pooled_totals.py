"""De-identified day totals of withdrawn students, folded into the grade and school trends.

When a school keeps de-identified totals (withdrawal_policy = deidentify), a withdrawn student's
day figures survive only pooled per school, grade and day (privacy.DeidentifiedDailyTotal).
They count where the student's figures counted before, in grade and whole-school trends, never
in classrooms (the rows have no classroom), and never as a row of their own: the group's
participant count includes the pooled people, so the min_group_size suppression of
dashboard.reports applies to them exactly as to everyone else. A group of one withdrawn
student is therefore suppressed, and a shown group's figures are the same as before the
withdrawal, so comparing reports reveals nothing new.

Pooled people per week are not known as distinct people (the rows are not linked to anyone),
so a week counts the most pooled on any one of its days: a lower bound, which can only
suppress more. Rows pooled before the count was kept say 0, and add no one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncWeek

from dashboard.series import sum_annotations
from privacy.models import DeidentifiedDailyTotal
from wellbeing.models import Organization


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def pooled_week_totals(
    org: Organization, first: dt.date, last: dt.date, by_grade: bool
) -> dict[tuple[dt.date, str | None], dict[str, Any]]:
    """(week, grade or None) -> summed figures and ``participants`` (see module docstring)."""
    keys = ["week", "day", "grade"] if by_grade else ["week", "day"]
    days = (
        DeidentifiedDailyTotal.objects.filter(
            organization=org, day__gte=first, day__lte=last, n__gt=0
        )
        .annotate(week=TruncWeek("day"))
        .values(*keys)
        .annotate(pooled=Sum("participants"), **sum_annotations())
    )
    weeks: dict[tuple[dt.date, str | None], dict[str, Any]] = defaultdict(dict)
    for day in days:
        total = weeks[(_as_date(day["week"]), day["grade"] if by_grade else None)]
        total["participants"] = max(total.get("participants", 0), day["pooled"] or 0)
        for name in sum_annotations():
            total[name] = total.get(name, 0) + (day[name] or 0)
    return dict(weeks)


def add_pooled_totals(
    rows: list[dict[str, Any]],
    pooled: dict[tuple[dt.date, str | None], dict[str, Any]],
    group_field: str | None,
) -> list[dict[str, Any]]:
    """The trend query's rows with the pooled figures added to the matching (week, group) row,
    or as a row of their own where no identifiable participant was observed."""
    merged: dict[tuple[dt.date, str | None], dict[str, Any]] = {}
    for row in rows:
        key = (_as_date(row["week"]), row.get(group_field) if group_field else None)
        merged[key] = dict(row)
    for (week, group), extra in pooled.items():
        base = {"week": week, "participants": 0, **({group_field: group} if group_field else {})}
        row = merged.setdefault((week, group), base)
        for name, value in extra.items():
            row[name] = (row.get(name) or 0) + value
    return [merged[key] for key in sorted(merged, key=lambda k: (k[1] or "", k[0]))]
