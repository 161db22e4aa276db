"""Participant, consent record and notice endpoints: parse, check permission, call an action
(consent.actions, wellbeing.actions), serialize. Mounted under /api/ by wellbeing.api_urls.

Access (see wellbeing.api.access): admins read and change their school's participants;
counselors read their caseload (others are 404); teachers get 403 on every participant endpoint.
Reads of participant data write ``participant.view``/``participant.list`` audit events.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import TooManyFilesSent
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.actions import (
    MAX_ENROLLMENT_PHOTOS,
    EnrollmentError,
    enroll_face,
    record_consent,
    withdraw_consent,
)
from consent.age_rules import PRESETS, AgeRules, rules_of
from consent.models import ConsentNotice, ConsentRecord
from consent.notice_publication import publish_confirmed_notice
from consent.rule_changes import AgeOnRecord, change_consent_rules, set_participant_age
from consent.rules import SchoolContext
from consent.serializers import (
    ConsentRecordCreateSerializer,
    ConsentRecordSerializer,
    ConsentRulesChangeSerializer,
    ConsentRulesSerializer,
    EnrollmentResultSerializer,
    EnrollmentSerializer,
    GuardianSerializer,
    NoticeSerializer,
    ParticipantSerializer,
    ParticipantWriteSerializer,
    WithdrawalSerializer,
)
from wellbeing.actions import (
    AGE_FIELDS,
    add_guardian,
    assign_caseload,
    create_participant,
    update_participant,
)
from wellbeing.api.access import CanSeeIndividuals
from wellbeing.api.audit import record_participant_list, record_participant_view
from wellbeing.api.error_docs import ApiErrorSerializer, error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.api.serializers import CaseloadAssignmentSerializer, CaseloadRequestSerializer
from wellbeing.models import CaseloadAssignment, Participant, staff_of
from wellbeing.permissions import IsOrgAdmin, IsStaffMember
from wellbeing.refusals import NotConfigured

# Reads open to admins and counselors; every other action is admin-only.
_READ_ACTIONS = {("list", "GET"), ("retrieve", "GET"), ("consents", "GET")}


class ParticipantViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Participant],
):
    """Students of the caller's school (counselors: their caseload only)."""

    serializer_class = ParticipantSerializer
    queryset = Participant.objects.none()
    filter_backends = [SearchFilter]
    search_fields = ["pseudonym", "full_name"]

    def get_permissions(self) -> list[BasePermission]:
        if (self.action, self.request.method) in _READ_ACTIONS:
            return [CanSeeIndividuals()]
        return [IsOrgAdmin()]

    def get_queryset(self) -> QuerySet[Participant]:
        in_force = ConsentRecord.objects.in_force()
        return (
            Participant.objects.visible_to(self.request.user)
            .annotate(face_template_count=Count("face_templates", distinct=True))
            .prefetch_related("classrooms", "caseload", Prefetch("consent_records", in_force))
            .order_by("pk")
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        staff = staff_of(self.request.user) if self.request else None
        context["staff"] = staff
        context["school"] = staff and SchoolContext.load(staff.organization)
        return context

    def _reloaded(self, participant: Participant) -> dict[str, Any]:
        data: dict[str, Any] = self.get_serializer(self.get_queryset().get(pk=participant.pk)).data
        return data

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        search = request.query_params.get("search", "")
        record_participant_list(audit_context(request), page, search=search)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        participant = self.get_object()
        record_participant_view(audit_context(request), participant)
        return Response(self.get_serializer(participant).data)

    @extend_schema(
        request=ParticipantWriteSerializer,
        responses={201: ParticipantSerializer, **error_responses(400, 403)},
        description="Create a participant in the caller's school (admin).",
    )
    def create(self, request: Request) -> Response:
        payload = ParticipantWriteSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        age = data.pop("age", AgeOnRecord())
        fields = {k: v for k, v in data.items() if k not in (*AGE_FIELDS, "confirm", "reviewed")}
        with refusals_as_http():
            participant = create_participant(
                audit_context(request),
                **fields,
                date_of_birth=age.date_of_birth,
                birth_year=age.birth_year,
                age_band=age.age_band,
            )
        return Response(self._reloaded(participant), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ParticipantWriteSerializer(partial=True),
        responses={200: ParticipantSerializer, **error_responses(400, 403, 404)},
        description="Change name, grade, classrooms (``classrooms`` replaces the set), the "
        "student's e-mail address or the age on record (admin). An age that ends a scope "
        "needs ``confirm`` and the reviewed ``consequences.token`` as ``reviewed``; without "
        "them the answer is 400 confirmation_required with the consequences, and nothing "
        "changes.",
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        participant = self.get_object()
        context = {**self.get_serializer_context(), "participant": participant}
        payload = ParticipantWriteSerializer(data=request.data, partial=True, context=context)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        confirm, reviewed, age = (
            data.pop("confirm", False),
            data.pop("reviewed", ""),
            data.pop("age", None),
        )
        fields = {k: v for k, v in data.items() if k not in AGE_FIELDS}
        if not fields and age is None:
            raise ValidationError(
                {"non_field_errors": ["Send full_name, grade, classrooms, email or an age field."]}
            )
        ctx = audit_context(request)
        with refusals_as_http(), transaction.atomic():
            if age is not None:
                set_participant_age(ctx, participant, age, confirm=confirm, reviewed=reviewed)
            if fields:
                update_participant(ctx, participant, **fields)
        return Response(self._reloaded(participant))

    @extend_schema(
        methods=["GET"], responses={200: GuardianSerializer(many=True), **error_responses(403, 404)}
    )
    @extend_schema(
        methods=["POST"],
        request=GuardianSerializer,
        responses={201: GuardianSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def guardians(self, request: Request, pk: str | None = None) -> Response:
        """The participant's guardians (admin), or add one."""
        participant = self.get_object()
        ctx = audit_context(request)
        if request.method == "GET":
            record_participant_view(ctx, participant, section="guardians")
            return Response(
                GuardianSerializer(participant.guardians.order_by("pk"), many=True).data
            )
        payload = GuardianSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with refusals_as_http():
            guardian = add_guardian(ctx, participant, **payload.validated_data)
        return Response(GuardianSerializer(guardian).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        responses={200: ConsentRecordSerializer(many=True), **error_responses(403, 404)},
    )
    @extend_schema(
        methods=["POST"],
        request=ConsentRecordCreateSerializer,
        responses={201: ConsentRecordSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def consents(self, request: Request, pk: str | None = None) -> Response:
        """Consent history, newest first, withdrawn records included; or record a decision."""
        participant = self.get_object()
        ctx = audit_context(request)
        if request.method == "GET":
            record_participant_view(ctx, participant, section="consents")
            records = ConsentRecord.objects.filter(participant=participant).select_related(
                "notice", "recorded_by__user", "withdrawn_by__user"
            )
            return Response(ConsentRecordSerializer(records, many=True).data)
        context = {**self.get_serializer_context(), "participant": participant}
        payload = ConsentRecordCreateSerializer(data=request.data, context=context)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        with refusals_as_http():
            record = record_consent(
                ctx,
                participant,
                scopes=sorted(data["scopes"]),
                decision=data["decision"],
                given_by=data["given_by"],
                evidence_reference=data["evidence_reference"],
                evidence_date=data["evidence_date"],
                guardian=data.get("guardian"),
                recorded_by=current_staff(request),
            )
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": EnrollmentSerializer},
        responses={
            201: EnrollmentResultSerializer,
            **error_responses(400, 403, 404, 503),
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def enroll(self, request: Request, pk: str | None = None) -> Response:
        """Compute encrypted face templates from 1-5 ``photos``; the photos are not kept.

        Refused (400) without active face_template consent or when a photo is unusable.
        """
        participant = self.get_object()
        try:
            form = request.data
        except TooManyFilesSent as exc:  # Django stops parsing past DATA_UPLOAD_MAX_NUMBER_FILES
            raise EnrollmentError(f"Upload between 1 and {MAX_ENROLLMENT_PHOTOS} photos.") from exc
        payload = EnrollmentSerializer(data=form)
        payload.is_valid(raise_exception=True)
        photos = [upload.read() for upload in payload.validated_data["photos"]]
        with refusals_as_http():
            try:
                templates = enroll_face(audit_context(request), participant, photos)
            except ImportError as exc:  # the inference engine is not installed on this server
                raise NotConfigured(f"The face engine is not available: {exc}") from exc
        result = {
            "templates_created": len(templates),
            "face_template_count": participant.face_templates.count(),
        }
        return Response(EnrollmentResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CaseloadRequestSerializer,
        responses={
            200: CaseloadAssignmentSerializer,
            201: CaseloadAssignmentSerializer,
            **error_responses(400, 403, 404),
        },
    )
    @action(detail=True, methods=["post"])
    def caseload(self, request: Request, pk: str | None = None) -> Response:
        """Put the participant on a counselor's caseload (200 when already there)."""
        participant = self.get_object()
        payload = CaseloadRequestSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        counselor = payload.validated_data["counselor"]
        existed = CaseloadAssignment.objects.filter(
            counselor=counselor, participant=participant
        ).exists()
        with refusals_as_http():
            assignment = assign_caseload(audit_context(request), counselor, participant)
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(CaseloadAssignmentSerializer(assignment).data, status=code)


class ConsentRecordViewSet(
    SchoolObjectMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ConsentRecord]
):
    """One consent record (admins; counselors for their caseload) and its withdrawal (admin).

    Lists live under /api/participants/{id}/consents/.
    """

    serializer_class = ConsentRecordSerializer
    queryset = ConsentRecord.objects.none()

    def get_permissions(self) -> list[BasePermission]:
        return [CanSeeIndividuals()] if self.action == "retrieve" else [IsOrgAdmin()]

    def get_queryset(self) -> QuerySet[ConsentRecord]:
        visible = Participant.objects.visible_to(self.request.user)
        return ConsentRecord.objects.filter(participant__in=visible).select_related(
            "participant", "notice", "recorded_by__user", "withdrawn_by__user"
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        record_participant_view(audit_context(request), record.participant, section="consents")
        return Response(self.get_serializer(record).data)

    @extend_schema(
        request=WithdrawalSerializer,
        responses={200: ConsentRecordSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw the record with immediate effect (400 if already withdrawn)."""
        record = self.get_object()
        payload = WithdrawalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with refusals_as_http():
            withdraw_consent(
                audit_context(request),
                record,
                by=current_staff(request),
                note=payload.validated_data["note"],
            )
        return Response(self.get_serializer(self.get_queryset().get(pk=record.pk)).data)


class NoticePublishSerializer(NoticeSerializer):
    confirm = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Must be true: publishing ends every active consent, with the effects of a "
        "withdrawal. Without it the answer is 400 confirmation_required, stating them.",
    )
    reviewed_lapses = serializers.IntegerField(
        write_only=True,
        required=False,
        default=0,
        min_value=0,
        help_text="With confirm: the consequences.consents_lapsing you reviewed. Publishing "
        "happens only while that is still the number of consents that would lapse; otherwise "
        "the answer is 400 confirmation_required with the current consequences. Omitted, it "
        "counts as 0, so confirm alone publishes only while no consent would lapse.",
    )

    class Meta(NoticeSerializer.Meta):
        fields = [*NoticeSerializer.Meta.fields, "confirm", "reviewed_lapses"]


class PublicationRefusalSerializer(ApiErrorSerializer):
    consequences = serializers.DictField(
        help_text="What publishing would do now (consent.notice_publication.PublicationEffects)."
    )


class NoticeViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ConsentNotice],
):
    """The school's consent notices, newest version first; creating one publishes a new version.

    Publishing a new version means every participant needs fresh consent, and those who had it
    lose it at once with the effects of a withdrawal; so it needs ``confirm: true`` and the
    ``reviewed_lapses`` count the caller was shown, which must still be current.
    """

    serializer_class = NoticeSerializer
    queryset = ConsentNotice.objects.none()

    def get_permissions(self) -> list[BasePermission]:
        return [IsOrgAdmin()] if self.action == "create" else [IsStaffMember()]

    def get_queryset(self) -> QuerySet[ConsentNotice]:
        staff = staff_of(self.request.user)
        if staff is None:
            return ConsentNotice.objects.none()
        return ConsentNotice.objects.filter(organization=staff.organization).order_by("-version")

    @extend_schema(
        request=NoticePublishSerializer,
        responses={
            201: NoticeSerializer,
            400: OpenApiResponse(
                PublicationRefusalSerializer,
                description="Invalid payload, or confirmation_required (no confirm, or "
                "reviewed_lapses is not the number of consents that would lapse now): nothing "
                "was published; detail and consequences say what publishing would end and "
                "delete.",
            ),
            **error_responses(403),
        },
    )
    def create(self, request: Request) -> Response:
        """Publish the next notice version (admin); send ``confirm: true`` and the reviewed
        ``reviewed_lapses`` to do it."""
        payload = NoticePublishSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        with refusals_as_http():
            notice, _effects = publish_confirmed_notice(
                audit_context(request),
                data["title"],
                data["text"],
                confirm=data["confirm"],
                reviewed_lapses=data["reviewed_lapses"],
            )
        return Response(self.get_serializer(notice).data, status=status.HTTP_201_CREATED)


class ConsentRulesRefusalSerializer(ApiErrorSerializer):
    consequences = serializers.DictField(
        help_text="What the change would do now (consent.rule_changes.ConsentChangeEffects): "
        "who loses and gains which scope, the figures a loss deletes, and the review's token."
    )


def _rules_answer(rules: AgeRules) -> dict[str, Any]:
    presets = [
        {
            "key": p.key,
            "name": p.label,
            "student_consent_age": p.student_consent_age,
            "guardian_for_biometrics": p.guardian_for_biometrics,
            "legal_source": p.source,
        }
        for p in PRESETS.values()
    ]
    return {
        **asdict(rules),
        "name": rules.label,
        "edited": rules.edited,
        "refusal_always_wins": True,
        "presets": presets,
    }


class ConsentRulesView(APIView):
    """Your school's age-aware consent rules (staff read; admins change them after a review).

    Changing them re-evaluates every consent: send ``confirm: true`` and the reviewed
    ``consequences.token`` as ``reviewed``.
    """

    def get_permissions(self) -> list[BasePermission]:
        return [IsOrgAdmin()] if self.request.method == "POST" else [IsStaffMember()]

    @extend_schema(responses={200: ConsentRulesSerializer, **error_responses(403)})
    def get(self, request: Request) -> Response:
        """The rules in force, and the presets to choose from with their sources."""
        return Response(_rules_answer(rules_of(current_staff(request).organization)))

    @extend_schema(
        request=ConsentRulesChangeSerializer,
        responses={
            200: ConsentRulesSerializer,
            400: OpenApiResponse(
                ConsentRulesRefusalSerializer,
                description="Invalid rules, or confirmation_required (no confirm, or a token "
                "that no longer describes the consequences): nothing changed.",
            ),
            **error_responses(403),
        },
    )
    def post(self, request: Request) -> Response:
        """Adopt a preset, optionally edited (admin)."""
        payload = ConsentRulesChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        preset = PRESETS[data["preset"]]
        rules = AgeRules(
            preset.key,
            data.get("student_consent_age", preset.student_consent_age),
            data.get("guardian_for_biometrics", preset.guardian_for_biometrics),
        )
        ctx = audit_context(request)
        with refusals_as_http():
            change_consent_rules(ctx, rules, confirm=data["confirm"], reviewed=data["reviewed"])
        return Response(_rules_answer(rules_of(ctx.organization)))
