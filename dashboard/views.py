"""Landing page per role. The full counselor dashboard is issue 7."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from consent.models import ALL_SCOPES, ConsentNotice
from consent.rules import participants_with_consent
from wellbeing.actions import record_audit
from wellbeing.models import Classroom, Participant, StaffMember
from wellbeing.web_access import audit_context, staff_required


@staff_required()
def home(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Admins and counselors see the students they may see; teachers see only classrooms."""
    participants = list(
        Participant.objects.visible_to(staff.user)
        .prefetch_related("consent_records")
        .order_by("full_name")
    )
    page = Paginator(participants, 25).get_page(request.GET.get("page"))
    if participants:
        record_audit(audit_context(request, staff), "participant.list", page=page.number)
    context = {
        "page": page,
        "participant_count": len(participants),
        "analysable_count": len(participants_with_consent(participants, ALL_SCOPES)),
        "classrooms": Classroom.objects.visible_to(staff.user).order_by("name"),
        "notice": ConsentNotice.objects.current_for(staff.organization),
    }
    return render(request, "dashboard/home.html", context)
