"""Roster import pages (school admins): upload, preview, confirm; and the template download.

Thin: read the upload, call consent.roster_plan / consent.roster_import, render. Between the
preview and the confirmation the files travel with the admin's form, compressed and signed for
this admin and school (so nothing of the roster is kept on the server before it is imported,
and a tampered or hour-old form is refused); the confirmation re-reads them and imports only if
the result is still the one previewed.
"""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from consent.forms import MultipleFileField, MultipleFileInput
from consent.roster_files import (
    TEMPLATE_COLUMNS,
    TEMPLATE_FILE,
    RosterUnreadable,
    read_upload,
    template_csv,
)
from consent.roster_import import (
    RosterChanged,
    RosterRefused,
    apply_roster,
    plan_roster,
    record_roster_preview,
)
from consent.roster_plan import ACTIONS, KINDS, RosterPlan
from wellbeing.actions import AuditContext
from wellbeing.models import Role, StaffMember
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)
UPLOAD_MAX_AGE_SECONDS = 3600
LISTED_PER_SECTION = 200


class RosterUploadForm(forms.Form):
    roster = MultipleFileField(
        widget=MultipleFileInput(attrs={"accept": ".csv,.zip,text/csv,application/zip"}),
        help_text="OneRoster 1.1 CSV files (a zip, or users.csv, classes.csv, enrollments.csv, "
        "orgs.csv and demographics.csv one by one) or the roster template.",
    )
    school_source_id = forms.CharField(
        max_length=255,
        required=False,
        label="School sourcedId (OneRoster)",
        help_text="Only when the files cover several schools: your school's sourcedId in orgs.csv.",
    )


class RosterConfirmForm(forms.Form):
    upload = forms.CharField(widget=forms.HiddenInput)
    reviewed = forms.CharField(max_length=64, widget=forms.HiddenInput)


def _salt(staff: StaffMember) -> str:
    return f"consent.roster_import:{staff.organization_id}:{staff.pk}"


def pack_upload(staff: StaffMember, files: dict[str, bytes], school_id: str) -> str:
    encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
    return signing.dumps({"files": encoded, "school": school_id}, salt=_salt(staff), compress=True)


def unpack_upload(staff: StaffMember, packed: str) -> tuple[dict[str, bytes], str]:
    """The files and school id of pack_upload; signing.BadSignature when tampered or stale."""
    data = signing.loads(packed, salt=_salt(staff), max_age=UPLOAD_MAX_AGE_SECONDS)
    return {n: base64.b64decode(v) for n, v in data["files"].items()}, data["school"]


@admin_only
def roster_upload(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """GET: the upload form. POST: the preview of what importing the files would do."""
    form = RosterUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        uploads = [(f.name or "", f.read()) for f in form.cleaned_data["roster"]]
        school_id = form.cleaned_data["school_source_id"].strip()
        try:
            files = read_upload(uploads)
            plan = plan_roster(staff.organization, files, school_id)
        except RosterUnreadable as exc:
            form.add_error("roster", str(exc))
        else:
            record_roster_preview(AuditContext.from_request(request, staff), plan)
            return _preview(request, staff, plan, pack_upload(staff, files, school_id))
    context = {"form": form, "columns": TEMPLATE_COLUMNS}
    return render(request, "consent/roster_upload.html", context)


@admin_only
@require_POST
def roster_confirm(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    form = RosterConfirmForm(request.POST)
    try:
        if not form.is_valid():
            raise signing.BadSignature("incomplete form")
        files, school_id = unpack_upload(staff, form.cleaned_data["upload"])
    except signing.BadSignature:
        messages.error(request, "That preview has expired or is not yours; upload the files again.")
        return redirect("consent:roster_import")
    ctx = AuditContext.from_request(request, staff)
    try:
        plan = apply_roster(ctx, files, school_id, reviewed=form.cleaned_data["reviewed"])
    except RosterChanged as changed:
        return _preview(request, staff, changed.plan, form.cleaned_data["upload"], stale=True)
    except RosterRefused as refused:
        messages.error(request, str(refused))
        return redirect("consent:roster_import")
    messages.success(request, f"Roster imported: {_summary(plan)}. No consent was recorded.")
    return redirect("consent:participants")


@admin_only
def roster_template(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{TEMPLATE_FILE}"'
    return response


def _summary(plan: RosterPlan) -> str:
    counts = plan.counts()
    parts = [
        f"{kind} {counts[kind]['create']} created, {counts[kind]['change']} changed"
        for kind in KINDS
        if counts[kind]["create"] or counts[kind]["change"]
    ]
    return "; ".join(parts) or "nothing to change"


def _preview(
    request: HttpRequest, staff: StaffMember, plan: RosterPlan, packed: str, stale: bool = False
) -> HttpResponse:
    sections: list[dict[str, Any]] = []
    for kind in KINDS:
        for action in ACTIONS[:2] + ACTIONS[3:]:  # unchanged records are only counted
            rows = plan.listed(kind, action)
            if rows:
                shown = rows[:LISTED_PER_SECTION]
                more = len(rows) - len(shown)
                sections.append({"kind": kind, "action": action, "rows": shown, "more": more})
    confirm = RosterConfirmForm(initial={"upload": packed, "reviewed": plan.token})
    context = {
        "plan": plan,
        "table": [(kind, [plan.counts()[kind][a] for a in ACTIONS]) for kind in KINDS],
        "actions": ACTIONS,
        "writes": sum(plan.counts()[k][a] for k in KINDS for a in ACTIONS[:2]),
        "sections": sections,
        "confirm": confirm,
        "stale": stale,
        "school": staff.organization,
    }
    return render(request, "consent/roster_preview.html", context)
