"""The form of the capture device page (validation only; capture.devices acts)."""

from __future__ import annotations

from typing import Any

from django import forms

from wellbeing.models import Classroom, Participant, StaffMember


class DeviceForm(forms.Form):
    name = forms.CharField(max_length=120)
    classroom = forms.ModelChoiceField(queryset=Classroom.objects.none(), required=False)
    participant = forms.ModelChoiceField(
        queryset=Participant.objects.none(),
        required=False,
        help_text="For a student's own laptop: bind it to that student instead of a classroom.",
    )

    def __init__(self, *args: Any, staff: StaffMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        classroom, participant = self.fields["classroom"], self.fields["participant"]
        assert isinstance(classroom, forms.ModelChoiceField)
        assert isinstance(participant, forms.ModelChoiceField)
        classroom.queryset = Classroom.objects.filter(organization=staff.organization)
        participant.queryset = Participant.objects.filter(organization=staff.organization)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("classroom")) == bool(data.get("participant")):
            raise forms.ValidationError("Choose either a classroom or a student, not both.")
        return data
