"""Core pages: public retention schedule, admin audit-trail viewer (two-factor pages:
wellbeing.two_factor_views)."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import AuditEvent, AuditEventQuerySet, Organization, Role, StaffMember
from wellbeing.spreadsheet import WRITER_OPTIONS, csv_cell
from wellbeing.web_access import staff_required

AUDIT_CSV_COLUMNS = (
    "created_at",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "participant_pseudonym",
    "ip_address",
    "detail",
)


def retention_schedule(request: HttpRequest, slug: str) -> HttpResponse:
    """Public page (no sign-in): what the school keeps, for how long, and why."""
    org = get_object_or_404(Organization, slug=slug)
    return render(request, "wellbeing/retention.html", {"org": org})


def _filtered_events(
    request: HttpRequest, staff: StaffMember
) -> tuple[AuditEventQuerySet, dict[str, str]]:
    filters = {key: request.GET.get(key, "").strip() for key in ("action", "pseudonym", "actor")}
    events = AuditEvent.objects.visible_to(staff.user)
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["pseudonym"]:
        events = events.filter(participant_pseudonym=filters["pseudonym"])
    if filters["actor"]:
        events = events.filter(actor_label__icontains=filters["actor"])
    return events, filters


@staff_required(Role.ADMIN)
def audit_log(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    events, filters = _filtered_events(request, staff)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "wellbeing/audit_log.html", {"page": page, "filters": filters})


class _Echo:
    def write(self, value: str) -> str:
        return value


@staff_required(Role.ADMIN)
def audit_log_csv(request: HttpRequest, staff: StaffMember) -> StreamingHttpResponse:
    """Stream the filtered audit trail as CSV; exporting it is itself audited."""
    events, filters = _filtered_events(request, staff)
    record_audit(AuditContext.from_request(request, staff), "audit.export", filters=filters)
    writer = csv.writer(_Echo(), **WRITER_OPTIONS)
    rows = (
        [csv_cell(getattr(event, column)) for column in AUDIT_CSV_COLUMNS]
        for event in events.iterator(chunk_size=2000)
    )
    stream = (writer.writerow(row) for row in ([*AUDIT_CSV_COLUMNS], *rows))
    response = StreamingHttpResponse(stream, content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
