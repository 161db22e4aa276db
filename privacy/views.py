"""Admin pages for data-subject rights. Thin: parse, check permission, call an action."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from privacy.models import ErasureRequest
from privacy.subject_rights import (
    ErasureError,
    carry_out_erasure,
    collect_participant_data,
    export_csv_zip,
    open_erasure_request,
    reject_erasure,
)
from wellbeing.actions import AuditContext
from wellbeing.models import Participant, Role, StaffMember
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)


class ErasureRequestForm(forms.Form):
    participant = forms.ModelChoiceField(queryset=Participant.objects.none())
    requested_by = forms.CharField(max_length=200, help_text="e.g. 'mother, by letter'")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: object, staff: StaffMember, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["participant"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Participant.objects.visible_to(staff.user).order_by("full_name")


@admin_only
def export_participant(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = get_object_or_404(Participant.objects.visible_to(staff.user), pk=pk)
    data = collect_participant_data(AuditContext.from_request(request, staff), participant)
    return export_response(data, participant, request.GET.get("format", ""))


def export_response(data: dict[str, Any], participant: Participant, fmt: str) -> HttpResponse:
    """The export as a download: a zip of CSV files for ``fmt`` "csv", else JSON."""
    name = f"participant-{participant.pseudonym}"
    if fmt == "csv":
        response = HttpResponse(export_csv_zip(data), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
        return response
    json_response = JsonResponse(data, json_dumps_params={"indent": 2})
    json_response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return json_response


@admin_only
def erasure_requests(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    form = ErasureRequestForm(request.POST or None, staff=staff)
    if request.method == "POST" and form.is_valid():
        open_erasure_request(AuditContext.from_request(request, staff), **form.cleaned_data)
        messages.success(request, "Erasure request recorded; the deadline is tracked below.")
        return redirect("privacy:erasure_requests")
    requests = ErasureRequest.objects.filter(organization=staff.organization).order_by(
        "status", "due_at"
    )
    return render(request, "privacy/erasure_requests.html", {"form": form, "requests": requests})


@admin_only
@require_POST
def erasure_decide(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest, pk=pk, organization=staff.organization)
    ctx = AuditContext.from_request(request, staff)
    decision = request.POST.get("decision")
    try:
        if decision == "reject":
            reject_erasure(ctx, erasure, request.POST.get("reason", ""), handled_by=staff)
            messages.success(request, "Request rejected; the reason is recorded.")
        elif decision == "erase":  # irreversible: only on an explicit choice, never by default
            deleted = carry_out_erasure(ctx, erasure, handled_by=staff)
            messages.success(request, f"Erased: {json.dumps(deleted)}")
        else:
            messages.error(request, "Choose to erase or to reject the request.")
    except ErasureError as exc:
        messages.error(request, str(exc))
    return redirect("privacy:erasure_requests")
