from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings

from consent.actions import MAX_ENROLLMENT_PHOTOS
from consent.age_rules import MAX_STUDENT_CONSENT_AGE, MIN_STUDENT_CONSENT_AGE, PRESETS, AgeRules
from consent.models import ALL_SCOPES, Decision, GivenBy
from consent.rule_changes import AgeOnRecord, ConsentRulesRefused, validate_age
from wellbeing.models import AgeBand, Classroom, Guardian, Participant, StaffMember


class AgeFields(forms.Form):
    """What the school knows of a student's age (consent.age_rules): the most precise wins."""

    date_of_birth = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    birth_year = forms.IntegerField(
        required=False, help_text="If the school does not hold the date of birth."
    )
    age_band = forms.ChoiceField(
        choices=[("", "Not known"), *AgeBand.choices],
        required=False,
        help_text="If the school holds neither. An unknown age counts as below the school's "
        "consent age: a guardian's consent is then required.",
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today  # the school's own date, for checking the date of birth

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                validate_age(self.age(), self.today)
            except ConsentRulesRefused as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data

    def age(self) -> AgeOnRecord:
        data = self.cleaned_data
        return AgeOnRecord(data["date_of_birth"], data["birth_year"], data["age_band"] or "")


STUDENT_EMAIL_LABEL = "The student's own e-mail address"
STUDENT_EMAIL_HELP = (
    "Optional. Consent requests and the family portal use it only while the school's rules let "
    "the student decide at their age."
)


class ParticipantForm(AgeFields):
    full_name = forms.CharField(max_length=200)
    grade = forms.CharField(max_length=32, required=False)
    classrooms = forms.ModelMultipleChoiceField(queryset=Classroom.objects.none(), required=False)
    email = forms.EmailField(
        required=False, label=STUDENT_EMAIL_LABEL, help_text=STUDENT_EMAIL_HELP
    )

    field_order = ["full_name", "grade", "classrooms", "email"]

    def __init__(self, *args: Any, staff: StaffMember, **kwargs: Any) -> None:
        super().__init__(*args, today=staff.organization.local_today(), **kwargs)
        field = self.fields["classrooms"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Classroom.objects.filter(organization=staff.organization)


class StudentEmailForm(forms.Form):
    email = forms.EmailField(
        required=False, label=STUDENT_EMAIL_LABEL, help_text=STUDENT_EMAIL_HELP
    )


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


class ParticipantAgeForm(AgeFields):
    """The age on record, and the review's confirmation when it ends a consent."""

    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reviewed = forms.CharField(required=False, widget=forms.HiddenInput)


class ConsentRulesForm(forms.Form):
    """A preset and its two editable values; ``confirm``/``reviewed`` come from the review."""

    preset = forms.ChoiceField(choices=[(p.key, p.label) for p in PRESETS.values()])
    student_consent_age = forms.IntegerField(
        min_value=MIN_STUDENT_CONSENT_AGE,
        max_value=MAX_STUDENT_CONSENT_AGE,
        required=False,
        help_text="From this age a student's own consent suffices. Empty: the preset's age.",
    )
    guardian_for_biometrics = forms.ChoiceField(
        choices=[("", "As the preset says"), ("yes", "Yes"), ("no", "No")],
        required=False,
        label="A guardian's consent always required for a minor's face template",
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reviewed = forms.CharField(required=False, widget=forms.HiddenInput)

    def rules(self) -> AgeRules:
        data = self.cleaned_data
        preset = PRESETS[data["preset"]]
        age = data["student_consent_age"]
        bio = data["guardian_for_biometrics"]
        return AgeRules(
            preset.key,
            preset.student_consent_age if age is None else age,
            preset.guardian_for_biometrics if not bio else bio == "yes",
        )


class PortalChartsForm(forms.Form):
    """The school's switch for expression charts in the family portal (off by default)."""

    show = forms.BooleanField(
        required=False,
        label="Show guardians (and students old enough to decide) the student's expression "
        "shares per day in the family portal",
    )
