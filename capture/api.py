"""Read API of the time series (DRF): a participant's series, a class session's summary.

Visibility comes from the foundation's querysets: Participant.objects.visible_to (admins: their
school; counselors: their caseload; teachers: nobody, 403) and Classroom.objects.visible_to
(teachers: their classrooms). Unknown or invisible ids are 404. Series reads are audited.
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capture.models import ClassSession
from capture.series import (
    DEFAULT_SPAN,
    SeriesRangeError,
    participant_series,
    session_summary,
)
from wellbeing.api.access import CanSeeIndividuals
from wellbeing.api.audit import record_participant_view
from wellbeing.api.request_context import audit_context
from wellbeing.models import Participant


class SeriesQuerySerializer(serializers.Serializer[dict[str, object]]):
    resolution = serializers.ChoiceField(choices=["minute", "hour", "day"], default="minute")
    # "from" is a Python keyword, hence the source mapping.
    start = serializers.DateTimeField(required=False, source="from")
    end = serializers.DateTimeField(required=False, source="to")

    def to_internal_value(self, data: object) -> dict[str, object]:
        if hasattr(data, "get"):
            data = {
                "resolution": data.get("resolution", "minute"),
                **({"start": data.get("from")} if data.get("from") else {}),
                **({"end": data.get("to")} if data.get("to") else {}),
            }
        validated: dict[str, object] = super().to_internal_value(data)
        return validated


class ParticipantSeriesView(APIView):
    """GET ?resolution=minute|hour|day&from=ISO&to=ISO -> the participant's points."""

    permission_classes = [CanSeeIndividuals]

    @extend_schema(
        parameters=[
            OpenApiParameter("resolution", str, enum=["minute", "hour", "day"]),
            OpenApiParameter("from", OpenApiTypes.DATETIME),
            OpenApiParameter("to", OpenApiTypes.DATETIME),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Mean emotion probabilities, negative-affect share and engagement per "
        "bucket, from aggregates only.",
    )
    def get(self, request: Request, pk: int) -> Response:
        participant = get_object_or_404(
            Participant.objects.visible_to(request.user).select_related("organization"), pk=pk
        )
        query = SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        resolution = query.validated_data["resolution"]
        end: dt.datetime = query.validated_data.get("to") or timezone.now()
        start: dt.datetime = query.validated_data.get("from") or end - DEFAULT_SPAN[resolution]
        try:
            points = participant_series(participant, resolution, start, end)
        except SeriesRangeError as exc:
            raise ValidationError({"from": [str(exc)]}) from exc
        record_participant_view(audit_context(request), participant, section="series")
        return Response(
            {
                "participant": participant.pseudonym,
                "resolution": resolution,
                "from": start,
                "to": end,
                "points": points,
            }
        )


class SessionSummaryView(APIView):
    """GET -> class-level summary of a session (no per-student data; small groups hidden)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        session = get_object_or_404(
            ClassSession.objects.visible_to(request.user).select_related(
                "classroom__organization", "participant__organization"
            ),
            pk=pk,
        )
        owner = session.classroom or session.participant
        assert owner is not None
        return Response(session_summary(session, owner.organization.min_group_size))
