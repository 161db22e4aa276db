"""Admin reporting pages: the on-screen reports, a printable version and CSV downloads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.palette import EMOTION_COLOURS
from dashboard.report_exports import REPORT_KINDS, export_report_csv
from dashboard.reports import (
    MAX_WEEKS,
    BadReportError,
    TrendRow,
    consent_coverage,
    report_window,
    rule_outcomes,
    weekly_trends,
)
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.actions import AuditContext
from wellbeing.models import Role, StaffMember
from wellbeing.web_access import staff_required

DEFAULT_WEEKS = 12


def requested_weeks(request: HttpRequest, today: dt.date) -> int:
    """?weeks= as an int in 1..MAX_WEEKS (a window ending on the school's ``today``);
    raises BadReportError otherwise."""
    text = request.GET.get("weeks", str(DEFAULT_WEEKS))
    try:
        weeks = int(text)
    except ValueError as exc:
        raise BadReportError(f"Weeks must be a whole number, got {text!r}.") from exc
    report_window(today, weeks)
    return weeks


def report_context(staff: StaffMember, today: dt.date, weeks: int) -> dict[str, Any]:
    org = staff.organization
    school = weekly_trends(org, today, weeks, "school")
    return {
        "weeks": weeks,
        "max_weeks": MAX_WEEKS,
        "first_day": report_window(today, weeks)[0],
        "today": today,
        "min_group_size": org.min_group_size,
        "by_classroom": weekly_trends(org, today, weeks, "classroom"),
        "by_grade": weekly_trends(org, today, weeks, "grade"),
        "by_week": school,
        "coverage": consent_coverage(org),
        "rules": rule_outcomes(org, today, weeks),
        "emotions": CANONICAL_CLASSES,
        "chart_data": school_chart_data(school, report_window(today, weeks)[0], weeks),
        "kinds": REPORT_KINDS,
    }


def school_chart_data(rows: list[TrendRow], first_monday: dt.date, weeks: int) -> dict[str, Any]:
    """Every week of the period, in order: a week without data (or suppressed) is null, so the
    chart shows a gap there instead of a line drawn across it."""
    by_week = {row.week: row for row in rows}
    mondays = [first_monday + dt.timedelta(weeks=i) for i in range(weeks)]
    return {
        "labels": [monday.isoformat() for monday in mondays],
        "negative": [pct(getattr(by_week.get(m), "negative_share", None)) for m in mondays],
        "engagement": [pct(getattr(by_week.get(m), "engagement", None)) for m in mondays],
        "colours": EMOTION_COLOURS,
    }


def pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def render_reports(request: HttpRequest, staff: StaffMember, template: str) -> HttpResponse:
    today = staff.organization.local_today()
    try:
        weeks = requested_weeks(request, today)
        error = ""
    except BadReportError as exc:
        weeks, error = DEFAULT_WEEKS, str(exc)
    context = report_context(staff, today, weeks) | {"weeks_error": error}
    return render(request, template, context, status=400 if error else 200)


@staff_required(Role.ADMIN)
def reports(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Trends, consent coverage and alert outcomes of the admin's own school."""
    return render_reports(request, staff, "dashboard/reports.html")


@staff_required(Role.ADMIN)
def reports_print(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """The same reports as plain tables laid out for paper."""
    return render_reports(request, staff, "dashboard/reports_print.html")


@staff_required(Role.ADMIN)
def report_csv(request: HttpRequest, staff: StaffMember, kind: str) -> HttpResponse:
    if kind not in REPORT_KINDS:
        raise Http404("No such report.")
    today = staff.organization.local_today()
    try:
        weeks = requested_weeks(request, today)
    except BadReportError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    ctx = AuditContext.from_request(request, staff)
    filename, text = export_report_csv(ctx, kind, today, weeks)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
