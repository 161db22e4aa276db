"""CSV versions of the admin reports: one header row, then one row per report row.

Suppressed figures are written as the word "suppressed" (never as 0, which would be a lie).
Every field is quoted and text a spreadsheet would run as a formula is defused
(``wellbeing.spreadsheet``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable

from dashboard.reports import (
    BadReportError,
    CoverageRow,
    RuleOutcomeRow,
    TrendRow,
    consent_coverage,
    rule_outcomes,
    weekly_trends,
)
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Organization
from wellbeing.spreadsheet import WRITER_OPTIONS, csv_cell

SUPPRESSED = "suppressed"


def figure(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def trend_lines(rows: Iterable[TrendRow], group_title: str) -> Iterable[list[str]]:
    yield [group_title, "week", "participants", "observations", "negative_share", "engagement"] + [
        f"mean_{name}" for name in CANONICAL_CLASSES
    ]
    for row in rows:
        head = [csv_cell(row.group), row.week.isoformat(), str(row.participants)]
        if row.suppressed:
            yield head + [SUPPRESSED] * (3 + len(CANONICAL_CLASSES))
            continue
        yield [
            *head,
            str(row.observations),
            figure(row.negative_share),
            figure(row.engagement),
            *(figure(row.means.get(name)) for name in CANONICAL_CLASSES),
        ]


def coverage_lines(rows: Iterable[CoverageRow]) -> Iterable[list[str]]:
    yield ["group", "enrolled", "analysable", "share"]
    for row in rows:
        if row.suppressed:
            yield [csv_cell(row.group), str(row.enrolled), SUPPRESSED, SUPPRESSED]
        else:
            yield [csv_cell(row.group), str(row.enrolled), str(row.analysable), figure(row.share)]


def rule_lines(rows: Iterable[RuleOutcomeRow]) -> Iterable[list[str]]:
    yield [
        "rule",
        "slug",
        "raised",
        "open",
        "acknowledged",
        "median_ack_hours",
        "rated",
        "useful",
        "useful_share",
    ]
    for row in rows:
        yield [
            csv_cell(row.rule),
            row.slug,
            str(row.raised),
            str(row.open),
            str(row.acknowledged),
            figure(row.median_ack_hours, 2),
            str(row.rated),
            str(row.useful),
            figure(row.useful_share),
        ]


def report_lines(kind: str, org: Organization, today: dt.date, weeks: int) -> Iterable[list[str]]:
    """Rows of report ``kind``; raises BadReportError for an unknown kind."""
    builders: dict[str, Callable[[], Iterable[list[str]]]] = {
        "trends-classroom": lambda: trend_lines(
            weekly_trends(org, today, weeks, "classroom"), "classroom"
        ),
        "trends-grade": lambda: trend_lines(weekly_trends(org, today, weeks, "grade"), "grade"),
        "trends-week": lambda: trend_lines(weekly_trends(org, today, weeks, "school"), "group"),
        "consent": lambda: coverage_lines(consent_coverage(org)),
        "alert-rules": lambda: rule_lines(rule_outcomes(org, today, weeks)),
    }
    if kind not in builders:
        raise BadReportError(f"Unknown report {kind!r}; use one of {', '.join(builders)}.")
    return builders[kind]()


REPORT_KINDS = ("trends-classroom", "trends-grade", "trends-week", "consent", "alert-rules")


def export_report_csv(ctx: AuditContext, kind: str, today: dt.date, weeks: int) -> tuple[str, str]:
    """(filename, CSV text) of one report of the actor's school; audited as report.export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, **WRITER_OPTIONS)
    for line in report_lines(kind, ctx.organization, today, weeks):
        writer.writerow(line)
    record_audit(ctx, "report.export", kind=kind, weeks=weeks)
    return f"{ctx.organization.slug}-{kind}-{today.isoformat()}.csv", buffer.getvalue()
