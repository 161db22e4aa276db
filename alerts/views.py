"""Counselor alert pages: inbox, detail with evidence, and the state-change POSTs. Thin."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from alerts.forms import USEFUL_CHOICES, AlertActionForm
from alerts.models import ACTIVE_STATES, CLOSED_STATES, Alert, AlertQuerySet, AlertState
from alerts.workflow import ALERT_ACTIONS, AlertWorkflowError, apply_alert_action
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Role, StaffMember
from wellbeing.web_access import staff_required

can_see_alerts = staff_required(Role.ADMIN, Role.COUNSELOR)
STATE_FILTERS = {"active": ACTIVE_STATES, "closed": CLOSED_STATES, "all": tuple(AlertState.values)}


def by_severity_then_age(alerts: AlertQuerySet) -> AlertQuerySet:
    """Urgent first, then notify, then watch; oldest first (AlertQuerySet.by_severity_then_age)."""
    return alerts.by_severity_then_age()


@can_see_alerts
def inbox(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    state = request.GET.get("state", "active")
    states = STATE_FILTERS.get(state, ACTIVE_STATES)
    mine = Alert.objects.visible_to_staff(staff).filter(state__in=states)
    ordered = by_severity_then_age(mine.select_related("participant", "rule"))
    page = Paginator(ordered, 25).get_page(request.GET.get("page"))
    if page.object_list:
        record_audit(
            AuditContext.from_request(request, staff),
            "alert.list",
            pseudonyms=[a.participant.pseudonym for a in page],
        )
    context = {"page": page, "state": state, "useful_choices": USEFUL_CHOICES}
    return render(request, "alerts/inbox.html", context)


@can_see_alerts
def detail(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    # Another school's or another caseload's alert is a 404, revealing nothing.
    alert = get_object_or_404(
        Alert.objects.visible_to_staff(staff).select_related("participant", "rule"), pk=pk
    )
    record_audit(
        AuditContext.from_request(request, staff),
        "alert.view",
        target=alert,
        participant=alert.participant,
    )
    context = {
        "alert": alert,
        "events": alert.events.select_related("actor__user"),
        "form": AlertActionForm(),
        "evidence": alert.evidence,
    }
    return render(request, "alerts/detail.html", context)


@require_POST
@can_see_alerts
def act(request: HttpRequest, staff: StaffMember, pk: int, action: str) -> HttpResponse:
    if action not in ALERT_ACTIONS:
        raise Http404("Unknown alert action.")
    alert = get_object_or_404(Alert.objects.visible_to_staff(staff), pk=pk)
    form = AlertActionForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            error = "Please check the note and the feedback."
            return JsonResponse({"ok": False, "error": error}, status=400)
        messages.error(request, "Please check the note and the feedback.")
        return redirect("alerts:detail", pk=pk)
    note, useful = form.cleaned_data["note"], form.useful_value()
    ctx = AuditContext.from_request(request, staff)
    try:
        apply_alert_action(ctx, staff, alert, action, note, useful)
    except AlertWorkflowError as exc:
        if wants_json(request):
            return JsonResponse({"ok": False, "error": str(exc)}, status=400)
        messages.error(request, str(exc))
    else:
        if wants_json(request):
            alert.refresh_from_db()
            return JsonResponse({"ok": True, "state": alert.get_state_display()})
        messages.success(request, f"Alert {action} recorded.")
    return redirect("alerts:detail", pk=pk)


def wants_json(request: HttpRequest) -> bool:
    """The inbox's script asks for JSON so it can update a row without reloading the page."""
    return request.headers.get("Accept", "").startswith("application/json")
