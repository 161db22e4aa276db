"""Dashboard pages: home (caseload or classes), student page, live class view.

Every view checks permissions server-side through the visible_to QuerySets: an object outside
the caller's reach is a 404, exactly like one that does not exist. Admin reports live in
dashboard/report_views.py.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from consent.models import ConsentNotice
from dashboard.alert_feed import open_alert_feed
from dashboard.caseload import SORTS, BadSortError, caseload_queryset, caseload_rows
from dashboard.live_state import latest_minute_summary, running_sessions, sessions_visible_to
from dashboard.palette import EMOTION_COLOURS
from dashboard.series import (
    DEFAULT_RANGE_DAYS,
    MAX_HOURLY_DAYS,
    BadRangeError,
    choose_resolution,
    parse_date_range,
)
from dashboard.student_overview import load_student_overview
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Classroom, Participant, Role, StaffMember
from wellbeing.web_access import staff_required

PAGE_SIZE = 25


@staff_required()
def home(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Counselors: open alerts, then their caseload. Admins: the same for the whole school.
    Teachers: classes."""
    context: dict[str, object] = {
        "classrooms": Classroom.objects.visible_to(staff.user).order_by("name"),
        "running": running_sessions(staff),
        "notice": ConsentNotice.objects.current_for(staff.organization),
    }
    if staff.role != Role.TEACHER:
        feed = open_alert_feed(staff, staff.organization.local_today())
        if feed.items:
            pseudonyms = [item.student.pseudonym for item in feed.items]
            record_audit(
                AuditContext.from_request(request, staff), "alert.list", pseudonyms=pseudonyms
            )
        context["alert_feed"] = feed
        context.update(caseload_context(request, staff))
    return render(request, "dashboard/home.html", context)


def caseload_context(request: HttpRequest, staff: StaffMember) -> dict[str, object]:
    query = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "name")
    # Days and sparklines are school-local.
    today = staff.organization.local_today()
    try:
        rows = caseload_queryset(staff, today, query, sort)
    except BadSortError:
        sort = "name"
        rows = caseload_queryset(staff, today, query, sort)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    if page.object_list:
        pseudonyms = [p.pseudonym for p in page]
        ctx = AuditContext.from_request(request, staff)
        record_audit(ctx, "participant.list", page=page.number, pseudonyms=pseudonyms)
    return {
        "page": page,
        "q": query,
        "sort": sort,
        "columns": sort_columns(sort),
        "rows": caseload_rows(list(page), staff.organization, today),
    }


COLUMN_TITLES = {
    "name": "Name",
    "pseudonym": "Pseudonym",
    "alerts": "Open alerts",
    "last_seen": "Last seen",
    "negative": "Negative affect, 14 days",
}


def sort_columns(current: str) -> list[dict[str, str]]:
    """Header links: clicking the sorted column flips its direction."""
    columns = []
    for key in SORTS:
        direction = ""
        if current.removeprefix("-") == key:
            direction = "descending" if current.startswith("-") else "ascending"
        flip = f"-{key}" if direction == "ascending" else key
        columns.append({"key": key, "title": COLUMN_TITLES[key], "next": flip, "aria": direction})
    return columns


@staff_required(Role.ADMIN, Role.COUNSELOR)
def student(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """One student's charts; 404 for anyone outside the caller's caseload or school."""
    participant = get_object_or_404(
        Participant.objects.visible_to(staff.user).select_related("organization"), pk=pk
    )
    today = staff.organization.local_today()
    try:
        rng = parse_date_range(request.GET.get("start"), request.GET.get("end"), today)
        error = ""
    except BadRangeError as exc:
        rng, error = parse_date_range(None, None, today), str(exc)
    resolution = choose_resolution(rng, request.GET.get("resolution"))
    overview = load_student_overview(
        AuditContext.from_request(request, staff), participant, rng, resolution
    )
    context = {
        "participant": participant,
        "overview": overview,
        "chart_data": overview.chart_payload(),
        "range_error": error,
        "emotions": CANONICAL_CLASSES,
        "colours": EMOTION_COLOURS,
        "max_hourly_days": MAX_HOURLY_DAYS,
        "default_days": DEFAULT_RANGE_DAYS,
    }
    return render(request, "dashboard/student.html", context, status=400 if error else 200)


@staff_required()
def live_session(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """Class-level live numbers of one session; 404 outside the caller's classrooms/school."""
    session = get_object_or_404(sessions_visible_to(staff), pk=pk)
    if session.classroom is None:
        raise Http404("Personal-device sessions have no class view.")
    organization = session.classroom.organization
    summary = latest_minute_summary(session, organization.min_group_size)
    context = {
        "session": session,
        "summary": summary,
        "emotions": CANONICAL_CLASSES,
        "live_config": {
            "socketPath": f"/ws/sessions/{session.pk}/live/",
            "minGroupSize": organization.min_group_size,
            "emotions": list(CANONICAL_CLASSES),
            "colours": EMOTION_COLOURS,
            "initial": summary,
        },
    }
    return render(request, "dashboard/live.html", context)
