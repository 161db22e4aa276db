"""Forms of the alert pages (notes, usefulness feedback, e-mail preference, rule editing)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django import forms

from alerts.models import Rule
from alerts.rules import check_rule_numbers
from alerts.workflow import EDITABLE_RULE_FIELDS

USEFUL_CHOICES = [("", "No answer"), ("yes", "Yes, useful"), ("no", "No, not useful")]
EMAIL_PREFERENCE_CHOICES = [
    ("immediate", "Immediate: an e-mail for each notify or urgent alert"),
    ("digest", "Daily digest: one e-mail a morning with counts"),
    ("none", "Dashboard only: no e-mail"),
]


class AlertActionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    useful = forms.ChoiceField(
        required=False, choices=USEFUL_CHOICES, label="Was this alert useful?"
    )

    def useful_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("useful") or "")


class EmailPreferenceForm(forms.Form):
    email_preference = forms.ChoiceField(
        choices=EMAIL_PREFERENCE_CHOICES, widget=forms.RadioSelect, label="Alert e-mails"
    )


class RuleNumbersMixin(forms.ModelForm[Rule]):
    """Refuses a rule that cannot work as written, as a form error rather than a crash."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        numbers = {name: getattr(self.instance, name, None) for name in EDITABLE_RULE_FIELDS}
        numbers.update({k: v for k, v in cleaned.items() if k in EDITABLE_RULE_FIELDS})
        if not self.errors:
            try:
                check_rule_numbers(SimpleNamespace(**numbers))
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


class RuleForm(RuleNumbersMixin):
    """What a school admin may change on a rule (saved as a new version by the view)."""

    class Meta:
        model = Rule
        fields = list(EDITABLE_RULE_FIELDS)
