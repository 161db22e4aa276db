"""Consent notice and consent record endpoints (changes through consent.actions only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from consent.actions import withdraw_consent
from consent.models import ConsentNotice, ConsentRecord
from privacy.notice_publication import publish_confirmed_notice
from wellbeing.api.access import CanSeeIndividuals
from wellbeing.api.audit import record_participant_view
from wellbeing.api.error_docs import ApiErrorSerializer, error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.api.serializers import (
    ConsentRecordSerializer,
    NoticeSerializer,
    WithdrawalSerializer,
)
from wellbeing.models import Participant, staff_of
from wellbeing.permissions import IsOrgAdmin, IsStaffMember


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
        help_text="What publishing would do now (privacy.notice_publication.PublicationEffects)."
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
