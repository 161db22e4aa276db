"""The caseload table: who the staff member may see, with status columns, search and sorting.

Status columns are annotations computed in SQL (14-day negative-affect share from DailyRollup,
open alerts), so sorting and pagination happen in the database. The sparklines and the change
against each student's own baseline (dashboard.rule_comparison) are read for one page at a
time, in a constant number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce

from alerts.models import SignalKind
from capture.models import DailyRollup
from dashboard.alert_feed import open_alerts_filter
from dashboard.rule_comparison import BaselineChange, baseline_changes, reference_rule
from dashboard.series import negative_sparklines
from dashboard.sparklines import Sparkline, make_sparkline
from inference.model_manifest import NEGATIVE_CLASSES
from wellbeing.models import Organization, Participant, StaffMember

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
class CaseloadRow:
    """One caseload line: the student, their 14-day sparkline and the change against their
    own baseline as the reference alert rule computes it (None without such a rule)."""

    participant: Participant
    spark: Sparkline
    change: BaselineChange | None


def caseload_rows(
    participants: Sequence[Participant], org: Organization, today: dt.date
) -> list[CaseloadRow]:
    """Rows for one page of the caseload, in a constant number of queries (about 6)."""
    ids = [p.pk for p in participants]
    lines = negative_sparklines(ids, today, SPARK_DAYS)
    rule = reference_rule(org) if ids else None
    changes = baseline_changes(org, rule, ids, today) if rule else {}
    # The baseline is drawn on the sparkline only when it is a baseline of the same signal.
    same_signal = rule is not None and rule.signal == SignalKind.NEGATIVE_SHARE
    rows = []
    for p in participants:
        change = changes.get(p.pk)
        baseline = change.baseline if change and same_signal else None
        spark = make_sparkline(lines[p.pk], reference=baseline)
        rows.append(CaseloadRow(p, spark, change))
    return rows
