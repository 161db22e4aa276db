from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from consent.actions import MAX_ENROLLMENT_PHOTOS
from consent.models import ALL_SCOPES, Decision, GivenBy
from wellbeing.models import Classroom, Guardian, Participant, StaffMember


class ParticipantForm(forms.Form):
    full_name = forms.CharField(max_length=200)
    grade = forms.CharField(max_length=32, required=False)
    classrooms = forms.ModelMultipleChoiceField(queryset=Classroom.objects.none(), required=False)

    def __init__(self, *args: Any, staff: StaffMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["classrooms"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Classroom.objects.filter(organization=staff.organization)


class GuardianForm(forms.Form):
    name = forms.CharField(max_length=200)
    relation = forms.CharField(max_length=64)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=32, required=False)


class ConsentRecordForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        choices=[(s, s.replace("_", " ")) for s in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )
    decision = forms.ChoiceField(choices=Decision.choices)
    given_by = forms.ChoiceField(choices=GivenBy.choices)
    guardian = forms.ModelChoiceField(queryset=Guardian.objects.none(), required=False)
    evidence_reference = forms.CharField(max_length=200, help_text="Signed form reference")
    evidence_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, participant: Participant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["guardian"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = participant.guardians.all()


class WithdrawForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files and cleans each one."""

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class EnrollmentForm(forms.Form):
    photos = MultipleFileField(
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png"}),
        help_text=f"1 to {MAX_ENROLLMENT_PHOTOS} photos, one face each. They are not stored.",
    )

    def clean_photos(self) -> list[bytes]:
        files = self.cleaned_data["photos"]
        if not 1 <= len(files) <= MAX_ENROLLMENT_PHOTOS:
            raise forms.ValidationError(f"Choose between 1 and {MAX_ENROLLMENT_PHOTOS} photos.")
        if any(f.size is None or f.size > settings.MAX_UPLOAD_BYTES for f in files):
            raise forms.ValidationError(
                f"Each photo must be under {settings.MAX_UPLOAD_BYTES // 1_000_000} MB."
            )
        return [f.read() for f in files]


class NoticeForm(forms.Form):
    """A new notice version; ``confirm`` and ``reviewed_lapses`` come from the review step."""

    title = forms.CharField(max_length=200)
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What is processed, why, and for how long.",
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reviewed_lapses = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
