"""Forms of the staff-management pages (validation only; wellbeing.staff_management acts)."""

from __future__ import annotations

from typing import Any

from django import forms

from wellbeing.models import Role, StaffMember
from wellbeing.staff_management import Handover, email_in_use, normalize_email


class StaffInviteForm(forms.Form):
    name = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=150, label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the staff member's name.")
        return name

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if email_in_use(email):
            raise forms.ValidationError("A user with this e-mail address already exists.")
        return email


class CounselorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.user.get_full_name() or obj.user.username} ({obj.user.email})"


class HandoverForm(forms.Form):
    """Where a departing counselor's caseload goes: a successor, or explicitly nobody."""

    successor = CounselorChoiceField(
        queryset=StaffMember.objects.none(),
        required=False,
        label="Successor counselor",
        help_text="Takes over the caseload.",
    )
    leave_unassigned = forms.BooleanField(
        required=False,
        label="Leave the caseload unassigned",
        help_text="Only admins will see those students until you assign them again.",
    )

    # Both forms share one page: distinct element ids.
    id_format = "handover_%s"

    def __init__(self, *args: Any, member: StaffMember, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", self.id_format)
        super().__init__(*args, **kwargs)
        if member.role != Role.COUNSELOR or not member.caseload.exists():
            # Nothing to hand over: the page shows no choice (the action re-checks under lock).
            del self.fields["successor"], self.fields["leave_unassigned"]
            return
        field = self.fields["successor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            StaffMember.objects.active()
            .filter(organization_id=member.organization_id, role=Role.COUNSELOR)
            .exclude(pk=member.pk)
            .select_related("user")
            .order_by("user__first_name", "user__username")
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("successor") and cleaned.get("leave_unassigned"):
            raise forms.ValidationError("Choose a successor or leave unassigned, not both.")
        return cleaned

    def handover(self) -> Handover:
        return Handover(
            successor=self.cleaned_data.get("successor"),
            leave_unassigned=bool(self.cleaned_data.get("leave_unassigned")),
        )


class RoleForm(HandoverForm):
    role = forms.ChoiceField(choices=Role.choices, label="New role")

    field_order = ["role", "successor", "leave_unassigned"]
    id_format = "role_%s"
