"""Pages for the school's age-aware consent rules and a student's age on record: each change is
reviewed (who loses and gains which scope) and then confirmed for that review
(consent.rule_changes). The rules page also holds the school's switch for expression charts in
the family portal (wellbeing.actions.update_school_settings, audited). Thin: parse, check, act."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from consent.age_rules import LEGACY, PRESETS, default_preset, rules_of
from consent.forms import ConsentRulesForm, ParticipantAgeForm, PortalChartsForm
from consent.rule_changes import (
    ChangeNotConfirmed,
    ConsentRulesRefused,
    change_consent_rules,
    describe_rules,
    set_participant_age,
)
from wellbeing.actions import AuditContext, update_school_settings
from wellbeing.models import Participant, Role, StaffMember
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)


@admin_only
def consent_rules(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """The rules in force and the presets; a change goes through the review page first."""
    school = staff.organization
    form = ConsentRulesForm(request.POST or None, initial=_initial(school.jurisdiction))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            effects = change_consent_rules(
                AuditContext.from_request(request, staff),
                form.rules(),
                confirm=data["confirm"],
                reviewed=data["reviewed"],
            )
        except ChangeNotConfirmed as refused:
            review = ConsentRulesForm(initial=_confirming(form, refused))
            return _review(request, review, refused, reverse("consent:rules"))
        except ConsentRulesRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Consent rules changed. {effects.summary()}")
            return redirect("consent:rules")
    rules = rules_of(school)
    context = {
        "form": form,
        "rules": rules,
        "described": describe_rules(rules),
        "legacy": rules.preset == LEGACY,
        "presets": PRESETS.values(),
        "portal_charts_form": PortalChartsForm(
            initial={"show": school.portal_shows_expression_charts}
        ),
    }
    return render(request, "consent/consent_rules.html", context)


@require_POST
@admin_only
def portal_charts(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Turn the family portal's expression charts on or off for the school (audited as
    ``school.update`` with the value before and after)."""
    form = PortalChartsForm(request.POST)
    show = form.is_valid() and form.cleaned_data["show"]
    update_school_settings(
        AuditContext.from_request(request, staff), portal_shows_expression_charts=show
    )
    if show:
        messages.success(request, "The family portal now shows expression charts.")
    else:
        messages.success(request, "The family portal shows no expression charts.")
    return redirect("consent:rules")


def _initial(jurisdiction: str) -> dict[str, Any]:
    return {"preset": default_preset(jurisdiction).key}


@admin_only
def participant_age(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """Record the age on record; when that ends a consent, the review page comes first."""
    participant = get_object_or_404(Participant.objects.visible_to(staff.user), pk=pk)
    form = ParticipantAgeForm(request.POST or None, today=staff.organization.local_today())
    if request.method != "POST":
        return redirect("consent:participant", pk=pk)
    if not form.is_valid():
        messages.error(request, f"Age not recorded: {form.errors.as_text()}")
        return redirect("consent:participant", pk=pk)
    data = form.cleaned_data
    try:
        effects = set_participant_age(
            AuditContext.from_request(request, staff),
            participant,
            form.age(),
            confirm=data["confirm"],
            reviewed=data["reviewed"],
        )
    except ChangeNotConfirmed as refused:
        review = ParticipantAgeForm(initial=_confirming(form, refused), today=form.today)
        return _review(request, review, refused, reverse("consent:participant_age", args=[pk]))
    messages.success(request, f"Age recorded. {effects.summary()}")
    return redirect("consent:participant", pk=pk)


def _confirming(form: ConsentRulesForm | ParticipantAgeForm, refused: ChangeNotConfirmed) -> Any:
    """The form's values, confirming the review ``refused`` carries."""
    return {**form.cleaned_data, "confirm": True, "reviewed": refused.effects.token}


def _review(
    request: HttpRequest,
    review: ConsentRulesForm | ParticipantAgeForm,
    refused: ChangeNotConfirmed,
    action_url: str,
) -> HttpResponse:
    """The review: who loses and gains which scope now, and a form confirming exactly that."""
    for field in review.fields.values():
        field.widget = field.hidden_widget()
    context = {
        "form": review,
        "effects": refused.effects,
        "changed": refused.stale,
        "action_url": action_url,
    }
    return render(request, "consent/consent_change_confirm.html", context)
