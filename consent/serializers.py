"""API representations of participants, guardians, consent records, notices and enrollment.
Serializers parse and validate; they never change the database.

Ids inside payloads (classrooms, guardians) are looked up only in the caller's school (or the
participant's guardians), so another school's id gets the same "does not exist" error as an
unknown id.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from consent.actions import MAX_ENROLLMENT_PHOTOS
from consent.age_rules import PRESETS
from consent.models import (
    ALL_SCOPES,
    ConsentNotice,
    ConsentRecord,
    Decision,
    GivenBy,
    Scope,
)
from consent.rule_changes import AgeOnRecord, ConsentRulesRefused, validate_age
from consent.rules import SchoolContext
from wellbeing.actions import AGE_FIELDS
from wellbeing.api.serializers import SchoolScopedField
from wellbeing.models import (
    AgeBand,
    Classroom,
    Guardian,
    Participant,
    Role,
    StaffMember,
)


def may_see_full_name(staff: StaffMember, participant: Participant) -> bool:
    """Admins of the participant's school, and counselors with the participant on caseload.

    Uses ``participant.caseload.all()`` so a prefetch avoids one query per row.
    """
    if staff.organization_id != participant.organization_id:
        return False
    if staff.role == Role.ADMIN:
        return True
    if staff.role == Role.COUNSELOR:
        return any(a.counselor_id == staff.pk for a in participant.caseload.all())
    return False


class ParticipantGuardianField(serializers.PrimaryKeyRelatedField):
    """A guardian id that must be one of ``context["participant"]``'s guardians."""

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        assert queryset is not None  # every use passes queryset=
        return queryset.filter(participant=self.context["participant"])


class ConsentStatusSerializer(serializers.Serializer):
    # Plain strings (not an enum) so the schema has one enum name for scopes: ScopesEnum.
    active_scopes = serializers.ListField(
        child=serializers.CharField(), help_text="Scopes processing may use now (see ScopesEnum)."
    )
    reasons = serializers.DictField(
        child=serializers.CharField(), help_text="Why each inactive scope is not active."
    )


class ParticipantSerializer(serializers.ModelSerializer):
    """A participant as staff see it. ``full_name`` is null for callers who may not see it.

    Expects ``context["staff"]`` and ``context["school"]`` (consent.rules.SchoolContext: the
    school's current notice, age rules and local date).
    """

    full_name = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField(
        help_text='The student\'s own e-mail address ("" when none); null, as full_name, for '
        "callers who may not see it."
    )
    consent = serializers.SerializerMethodField()
    age = serializers.SerializerMethodField(
        help_text='The age the consent rules use: "11", "12 or 13 (born 2013)", "in the '
        '13-15 age band" or "unknown" (treated as below the school\'s consent age).'
    )
    face_template_count = serializers.SerializerMethodField()
    classrooms = serializers.PrimaryKeyRelatedField[Classroom](many=True, read_only=True)

    class Meta:
        model = Participant
        fields = [
            "id",
            "pseudonym",
            "full_name",
            "email",
            "grade",
            "date_of_birth",
            "birth_year",
            "age_band",
            "age",
            "classrooms",
            "consent",
            "face_template_count",
            "created_at",
            "last_seen_at",
        ]
        read_only_fields = fields

    def get_full_name(self, participant: Participant) -> str | None:
        if may_see_full_name(self.context["staff"], participant):
            return participant.full_name
        return None

    def get_email(self, participant: Participant) -> str | None:
        if may_see_full_name(self.context["staff"], participant):
            return participant.email
        return None

    @extend_schema_field(ConsentStatusSerializer)
    def get_consent(self, participant: Participant) -> dict[str, Any]:
        school: SchoolContext = self.context["school"]
        state = school.decide(participant, participant.consent_records.all(), ALL_SCOPES)
        return {"active_scopes": sorted(state.active_scopes), "reasons": state.reasons}

    def get_age(self, participant: Participant) -> str:
        school: SchoolContext = self.context["school"]
        return school.subject(participant).age.known_as

    def get_face_template_count(self, participant: Participant) -> int:
        annotated = getattr(participant, "face_template_count", None)
        return annotated if annotated is not None else participant.face_templates.count()


class ParticipantWriteSerializer(serializers.Serializer):
    """Fields an admin may set; on PATCH each is optional, ``classrooms`` replaces the set.

    The age fields (date of birth, else year of birth, else a school-provided age band) decide
    whose consent counts: on PATCH, one that ends a scope is answered 400
    ``confirmation_required`` with the ``consequences``, until sent again with ``confirm`` and
    the review's ``consequences.token`` as ``reviewed`` (consent.rule_changes)."""

    full_name = serializers.CharField(max_length=200)
    grade = serializers.CharField(max_length=32, allow_blank=True, required=False)
    classrooms = SchoolScopedField(many=True, queryset=Classroom.objects.all(), required=False)
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="The student's own e-mail address (optional; blank removes it). Consent "
        "requests and the family portal use it only while the school's rules let the student "
        "decide at their age.",
    )
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    birth_year = serializers.IntegerField(required=False, allow_null=True)
    age_band = serializers.ChoiceField(choices=AgeBand.choices, required=False, allow_blank=True)
    confirm = serializers.BooleanField(required=False, default=False, write_only=True)
    reviewed = serializers.CharField(required=False, allow_blank=True, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The age fields checked together (in the school's calendar), merged on PATCH with the
        participant's stored ones (``context["participant"]``)."""
        if any(name in attrs for name in AGE_FIELDS):
            stored = self.context.get("participant")
            merged = {name: attrs.get(name, getattr(stored, name, None)) for name in AGE_FIELDS}
            age = AgeOnRecord(
                merged["date_of_birth"], merged["birth_year"], merged["age_band"] or ""
            )
            try:
                validate_age(age, self.context["staff"].organization.local_today())
            except ConsentRulesRefused as exc:
                raise serializers.ValidationError(str(exc)) from exc
            attrs["age"] = age
        return attrs


class PresetSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    student_consent_age = serializers.IntegerField()
    guardian_for_biometrics = serializers.BooleanField()
    legal_source = serializers.CharField()


class ConsentRulesSerializer(serializers.Serializer):
    """The school's age-aware consent rules (consent.age_rules) and the presets to choose from.

    A refusal by the student or any guardian always wins; that is no setting."""

    preset = serializers.ChoiceField(choices=sorted(PRESETS))
    student_consent_age = serializers.IntegerField(
        required=False,
        help_text="The age from which a student's own grant suffices (13-18); omitted: the "
        "preset's.",
    )
    guardian_for_biometrics = serializers.BooleanField(
        required=False,
        help_text="Whether a minor's face template needs a guardian's grant; omitted: the "
        "preset's.",
    )
    name = serializers.CharField(read_only=True, help_text='As reasons name them: "UK rules".')
    edited = serializers.BooleanField(read_only=True)
    refusal_always_wins = serializers.BooleanField(read_only=True, default=True)
    presets = PresetSerializer(many=True, read_only=True)


class ConsentRulesChangeSerializer(ConsentRulesSerializer):
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Must be true: the change re-evaluates every consent. Without it the answer "
        "is 400 confirmation_required with the consequences (who loses and gains which scope).",
    )
    reviewed = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="With confirm: the consequences.token you reviewed; the change happens only "
        "while it still describes the consequences.",
    )


class GuardianSerializer(serializers.ModelSerializer):
    class Meta:
        model = Guardian
        fields = ["id", "name", "relation", "email", "phone"]


class ConsentRecordSerializer(serializers.ModelSerializer):
    notice_version = serializers.IntegerField(source="notice.version", read_only=True)
    participant = serializers.PrimaryKeyRelatedField[Participant](read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    recorded_by = serializers.CharField(
        source="recorded_by.user.username", read_only=True, allow_null=True
    )
    withdrawn_by = serializers.CharField(
        source="withdrawn_by.user.username", read_only=True, allow_null=True
    )

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "participant",
            "notice_version",
            "scopes",
            "decision",
            "given_by",
            "guardian",
            "evidence_reference",
            "evidence_date",
            "recorded_by",
            "recorded_at",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_note",
        ]
        read_only_fields = fields


class ConsentRecordCreateSerializer(serializers.Serializer):
    """A grant or refusal under the current notice. ``guardian`` is required when a guardian
    gave it and must be one of this participant's guardians (``context["participant"]``)."""

    scopes = serializers.MultipleChoiceField(choices=Scope.choices, allow_empty=False)
    decision = serializers.ChoiceField(choices=Decision.choices)
    given_by = serializers.ChoiceField(choices=GivenBy.choices)
    guardian = ParticipantGuardianField(
        queryset=Guardian.objects.all(), required=False, allow_null=True
    )
    evidence_reference = serializers.CharField(max_length=200)
    evidence_date = serializers.DateField()


class WithdrawalSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentNotice
        fields = ["id", "version", "title", "text", "published_at"]
        read_only_fields = ["id", "version", "published_at"]


class EnrollmentSerializer(serializers.Serializer):
    photos = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=MAX_ENROLLMENT_PHOTOS,
        help_text="1-5 photos of the participant alone; discarded after computing templates.",
    )


class EnrollmentResultSerializer(serializers.Serializer):
    templates_created = serializers.IntegerField()
    face_template_count = serializers.IntegerField()
