"""Core pages: public retention schedule, admin audit-trail viewer, two-factor setup."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import AuditEvent, AuditEventQuerySet, Organization, Role, StaffMember
from wellbeing.spreadsheet import WRITER_OPTIONS, csv_cell
from wellbeing.two_factor import (
    confirm_totp,
    has_confirmed_device,
    secret_base32,
    start_totp_setup,
)
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


@staff_required()
def two_factor_setup(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Set up (or see the state of) TOTP two-factor sign-in for the signed-in staff member."""
    user = staff.user
    if has_confirmed_device(user):
        return render(request, "wellbeing/two_factor.html", {"enabled": True})
    device = start_totp_setup(user)
    if request.method == "POST":
        if confirm_totp(device, request.POST.get("token", "")):
            record_audit(AuditContext.from_request(request, staff), "account.two_factor_enabled")
            messages.success(request, "Two-factor sign-in is on: you will need a code next time.")
            return redirect("two_factor")
        messages.error(request, "That code is not valid; check your device's clock and retry.")
    context = {"enabled": False, "secret": secret_base32(device), "otpauth_url": device.config_url}
    return render(request, "wellbeing/two_factor.html", context)
