"""The family portal's data-subject pages: a guardian (or a student old enough to decide)
downloads everything held about the student, or asks for its erasure. Thin: the portal session
and the student are checked by consent.portal_views, the work is privacy.subject_rights'."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from consent.portal import PortalIdentity
from consent.portal_views import person_context, person_of, portal_required
from privacy.subject_rights import FamilyRecipient, ask_for_erasure, collect_participant_data
from privacy.views import export_response


class PortalErasureForm(forms.Form):
    note = forms.CharField(required=False, max_length=1000)


@portal_required
def export(request: HttpRequest, identity: PortalIdentity, pk: int) -> HttpResponse:
    """Everything held about the student, as JSON or (``?format=csv``) a zip of CSV files,
    without other people's personal data (privacy.subject_rights.for_family); audited as
    ``participant.export`` by the holder."""
    who = person_of(request, identity, pk)
    holder = FamilyRecipient(identity.email, who.guardian.pk if who.guardian else None)
    data = collect_participant_data(person_context(request, who), who.participant, holder)
    return export_response(data, who.participant, request.GET.get("format", ""))


@portal_required
@require_POST
def erasure(request: HttpRequest, identity: PortalIdentity, pk: int) -> HttpResponse:
    """Ask the school to erase the student's data: an erasure request with the school's 30-day
    deadline, decided by a school admin (as one made by letter). A second ask shows the first."""
    who = person_of(request, identity, pk)
    form = PortalErasureForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    found, created = ask_for_erasure(
        person_context(request, who), who.participant, who.holder_label, note
    )
    due = f"{found.due_at:%d %B %Y}"
    if created:
        messages.success(request, f"Your erasure request is recorded; the school answers by {due}.")
    else:
        messages.info(request, f"An erasure request is already open; the school answers by {due}.")
    return redirect("portal:person", pk=pk)
