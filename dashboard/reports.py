"""Admin reports: weekly engagement/affect trends, consent coverage, alert outcomes per rule.

All figures are aggregates over groups of participants. A group with fewer distinct
participants than Organization.min_group_size is suppressed: its row stays (so the admin sees
that the group exists) but every figure is blank. Grade and school trends also count withdrawn
students' de-identified day totals, as participants of the group (dashboard.pooled_totals).
Trends come from DailyRollup (one row per participant and local day), so a report over a year
reads at most 365 rows per participant.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncWeek

from alerts.models import Alert, Rule
from capture.models import DailyRollup
from consent.models import ALL_SCOPES
from consent.rules import participants_with_consent
from dashboard.pooled_totals import add_pooled_totals, pooled_week_totals
from dashboard.series import point_from_sums, sum_annotations
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.models import Organization, Participant

MAX_WEEKS = 104
GROUPINGS = {
    "classroom": "participant__classrooms__name",
    "grade": "participant__grade",
    "school": None,
}
NO_GROUP = {"classroom": "(no classroom)", "grade": "(no grade)", "school": "Whole school"}


class BadReportError(ValueError):
    """Unknown report, grouping or an out-of-range number of weeks."""


@dataclass(frozen=True)
class TrendRow:
    group: str
    week: dt.date
    participants: int
    suppressed: bool
    observations: int | None = None
    negative_share: float | None = None
    engagement: float | None = None
    means: dict[str, float] = field(default_factory=dict)


def report_window(today: dt.date, weeks: int) -> tuple[dt.date, dt.date]:
    """(Monday ``weeks - 1`` weeks before this week's Monday, today). Raises BadReportError."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise BadReportError(f"Weeks must be between 1 and {MAX_WEEKS}, got {weeks}.")
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(weeks=weeks - 1), today


def weekly_trends(
    org: Organization, today: dt.date, weeks: int = 12, by: str = "classroom"
) -> list[TrendRow]:
    """Observation-weighted weekly means per group, small groups suppressed."""
    if by not in GROUPINGS:
        raise BadReportError(f"Unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}.")
    first, last = report_window(today, weeks)
    group_field = GROUPINGS[by]
    keys = ["week", group_field] if group_field else ["week"]
    rows = list(
        DailyRollup.objects.filter(organization=org, day__gte=first, day__lte=last, n__gt=0)
        .annotate(week=TruncWeek("day"))
        .values(*keys)
        .annotate(participants=Count("participant", distinct=True), **sum_annotations())
        .order_by(*reversed(keys))
    )
    if by != "classroom":  # withdrawn students' pooled totals have a grade, not a classroom
        pooled = pooled_week_totals(org, first, last, by_grade=by == "grade")
        rows = add_pooled_totals(rows, pooled, group_field)
    trends = [
        trend_row(row, row.get(group_field) if group_field else None, by, org) for row in rows
    ]
    return suppress_complements(trends) if group_field else trends


def suppress_complements(rows: list[TrendRow]) -> list[TrendRow]:
    """Secondary suppression: when a week has exactly one suppressed group, also blank the
    smallest shown group of that week, so the whole-school row minus the shown groups cannot
    reveal the small group's figures."""
    by_week: dict[dt.date, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_week[row.week].append(i)
    result = list(rows)
    for indexes in by_week.values():
        hidden = [i for i in indexes if rows[i].suppressed]
        shown = [i for i in indexes if not rows[i].suppressed]
        if len(hidden) == 1 and shown:
            smallest = min(shown, key=lambda i: (rows[i].participants, rows[i].group))
            row = rows[smallest]
            result[smallest] = TrendRow(row.group, row.week, row.participants, suppressed=True)
    return result


def trend_row(row: dict[str, Any], group: str | None, by: str, org: Organization) -> TrendRow:
    label = group or NO_GROUP[by]
    week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
    if row["participants"] < org.min_group_size:
        return TrendRow(label, week, row["participants"], suppressed=True)
    point = point_from_sums(label, row)
    return TrendRow(
        group=label,
        week=week,
        participants=row["participants"],
        suppressed=False,
        observations=point.n,
        negative_share=point.negative_share,
        engagement=point.engagement,
        means=point.means,
    )


@dataclass(frozen=True)
class CoverageRow:
    group: str
    enrolled: int
    suppressed: bool
    analysable: int | None = None

    @property
    def share(self) -> float | None:
        if self.analysable is None or not self.enrolled:
            return None
        return self.analysable / self.enrolled


def consent_coverage(org: Organization) -> list[CoverageRow]:
    """Per classroom and for the whole school: participants with every consent scope active."""
    participants = list(
        Participant.objects.filter(organization=org).prefetch_related(
            "consent_records", "classrooms"
        )
    )
    analysable = {p.pk for p in participants_with_consent(participants, ALL_SCOPES)}
    groups: dict[str, list[int]] = defaultdict(list)
    for participant in participants:
        for classroom in participant.classrooms.all() or [None]:
            groups[classroom.name if classroom else NO_GROUP["classroom"]].append(participant.pk)
    rows = [coverage_row(name, ids, analysable, org) for name, ids in sorted(groups.items())]
    hidden = [row for row in rows if row.suppressed]
    shown = [row for row in rows if not row.suppressed]
    if len(hidden) == 1 and shown:
        # Secondary suppression, as in suppress_complements: school minus shown = the hidden one.
        smallest = min(shown, key=lambda row: (row.enrolled, row.group))
        rows[rows.index(smallest)] = CoverageRow(smallest.group, smallest.enrolled, True)
    rows.append(coverage_row("Whole school", [p.pk for p in participants], analysable, org))
    return rows


def coverage_row(name: str, ids: list[int], analysable: set[int], org: Organization) -> CoverageRow:
    if len(ids) < org.min_group_size:
        return CoverageRow(name, len(ids), suppressed=True)
    return CoverageRow(name, len(ids), False, sum(1 for pk in ids if pk in analysable))


def emotion_columns() -> list[str]:
    return [f"mean_{name}" for name in CANONICAL_CLASSES]


@dataclass(frozen=True)
class RuleOutcomeRow:
    """Alerts raised by one rule family in the window and what counselors made of them."""

    rule: str
    slug: str
    raised: int
    open: int
    acknowledged: int
    median_ack_hours: float | None
    rated: int
    useful: int

    @property
    def useful_share(self) -> float | None:
        return self.useful / self.rated if self.rated else None


def rule_outcomes(org: Organization, today: dt.date, weeks: int = 12) -> list[RuleOutcomeRow]:
    """Per rule family: volume, acknowledgement time, usefulness.

    Not suppressed: these are counts of alerts, which admins may already see one by one.
    """
    first, _ = report_window(today, weeks)
    alerts = Alert.objects.filter(organization=org, raised_at__date__gte=first)
    names = dict(Rule.objects.filter(organization=org, is_current=True).values_list("slug", "name"))
    grouped: dict[str, list[Any]] = defaultdict(list)
    alert: Any
    for alert in alerts.only("rule_slug", "state", "raised_at", "acknowledged_at", "useful"):
        grouped[alert.rule_slug].append(alert)
    return [rule_row(names.get(slug, slug), slug, rows) for slug, rows in sorted(grouped.items())]


def rule_row(name: str, slug: str, alerts: list[Any]) -> RuleOutcomeRow:
    waits = sorted(
        (a.acknowledged_at - a.raised_at).total_seconds() / 3600
        for a in alerts
        if a.acknowledged_at is not None
    )
    rated = [a.useful for a in alerts if a.useful is not None]
    return RuleOutcomeRow(
        rule=name,
        slug=slug,
        raised=len(alerts),
        open=sum(1 for a in alerts if a.state == "open"),
        acknowledged=len(waits),
        median_ack_hours=round(statistics.median(waits), 2) if waits else None,
        rated=len(rated),
        useful=sum(1 for useful in rated if useful),
    )
