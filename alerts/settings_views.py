"""Pages for what staff set themselves: school admins' rules, everyone's e-mail preference.

Thin: the forms check the input, alerts.workflow saves it (a rule edit is a new version).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from alerts.forms import EmailPreferenceForm, RuleForm
from alerts.models import Alert, Rule
from alerts.workflow import AlertWorkflowError, set_email_preference, update_rule
from wellbeing.actions import AuditContext
from wellbeing.models import Role, StaffMember
from wellbeing.web_access import staff_required

can_see_rules = staff_required(Role.ADMIN, Role.COUNSELOR)
can_edit_rules = staff_required(Role.ADMIN)


@can_see_rules
def rule_list(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    rules = list(Rule.objects.filter(organization=staff.organization).current().order_by("slug"))
    # Precision as counselors rated it, shown next to the numbers an admin would tune.
    feedback = Alert.objects.filter(organization=staff.organization).feedback_by_rule()
    none = {"raised": 0, "rated": 0, "useful": 0}
    rows = [(rule, feedback.get(rule.slug, none)) for rule in rules]
    context = {"rows": rows, "can_edit": staff.role == Role.ADMIN}
    return render(request, "alerts/rules.html", context)


@can_edit_rules
def rule_edit(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    # Another school's rule, or an old version, is a 404: only current versions are edited.
    rule = get_object_or_404(Rule.objects.filter(organization=staff.organization).current(), pk=pk)
    form = RuleForm(request.POST or None, instance=Rule.objects.get(pk=rule.pk))
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("alerts:rules")
        try:
            new = update_rule(AuditContext.from_request(request, staff), rule, **changes)
        except AlertWorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved “{new.name}” as version {new.version}.")
            return redirect("alerts:rules")
    return render(request, "alerts/rule_form.html", {"rule": rule, "form": form})


@can_see_rules
def email_preference(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    initial = {"email_preference": staff.email_preference}
    form = EmailPreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        choice = form.cleaned_data["email_preference"]
        set_email_preference(AuditContext.from_request(request, staff), staff, choice)
        messages.success(request, "Your alert e-mail preference is saved.")
        return redirect("alerts:preferences")
    return render(request, "alerts/preferences.html", {"form": form})
