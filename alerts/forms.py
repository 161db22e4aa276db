"""Forms of the alert pages (notes and usefulness feedback)."""

from __future__ import annotations

from django import forms

USEFUL_CHOICES = [("", "No answer"), ("yes", "Yes, useful"), ("no", "No, not useful")]


class AlertActionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    useful = forms.ChoiceField(
        required=False, choices=USEFUL_CHOICES, label="Was this alert useful?"
    )

    def useful_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("useful") or "")
