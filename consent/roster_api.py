"""``POST /api/roster-import/`` (school admins): preview a roster upload, or import it.

Thin, like the pages (consent.roster_views): the same files are sent twice, first without
``confirm`` (the answer is the preview and its ``token``), then with ``confirm`` and that token
as ``reviewed``; the import happens only when the files still give exactly that preview.
Mounted by wellbeing.api_urls.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import TooManyFilesSent
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.roster_files import RosterUnreadable, read_upload
from consent.roster_import import (
    RosterRefused,
    apply_roster,
    plan_roster,
    record_roster_preview,
)
from wellbeing.api.error_docs import error_responses
from wellbeing.api.refusals import refusals_as_http
from wellbeing.api.request_context import audit_context
from wellbeing.permissions import IsOrgAdmin


class RosterUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        help_text="OneRoster 1.1 CSV files (or a zip of them), or the roster template (one CSV).",
    )
    school_source_id = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=255,
        help_text="Your school's sourcedId in orgs.csv, when the files cover several schools.",
    )
    confirm = serializers.BooleanField(required=False, default=False)
    reviewed = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=64,
        help_text="The token of the preview being confirmed.",
    )


# Response shapes for the schema only; inline, because a serializer class cannot declare a
# field named ``errors`` (Serializer.errors is taken).
_ROW_ERRORS = serializers.ListField(
    child=serializers.DictField(), help_text="Each problem: file, line, column, message."
)
RosterPreviewSerializer = inline_serializer(
    "RosterPreview",
    {
        "format": serializers.CharField(),
        "counts": serializers.DictField(
            help_text="{entity: {create, change, unchanged, left alone}}"
        ),
        "rows": serializers.ListField(
            child=serializers.DictField(), help_text="The records that are not unchanged."
        ),
        "errors": _ROW_ERRORS,
        "notes": serializers.ListField(child=serializers.CharField()),
        "creates_consent": serializers.BooleanField(help_text="Always false: consent first."),
        "token": serializers.CharField(),
    },
)
RosterRefusalSerializer = inline_serializer(
    "RosterRefusal",
    {
        "error": serializers.CharField(),
        "detail": serializers.CharField(),
        "errors": _ROW_ERRORS,
        "preview": serializers.DictField(required=False, help_text="The preview now (409)."),
    },
)


class RosterImportView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    def get_permissions(self) -> list[BasePermission]:
        return [IsOrgAdmin()]

    @extend_schema(
        request={"multipart/form-data": RosterUploadSerializer},
        responses={
            200: OpenApiResponse(RosterPreviewSerializer, description="The preview."),
            201: OpenApiResponse(RosterPreviewSerializer, description="Imported."),
            400: OpenApiResponse(
                RosterRefusalSerializer,
                description="Unreadable files, or confirmed with errors: nothing imported.",
            ),
            409: OpenApiResponse(
                RosterRefusalSerializer,
                description="The preview changed since it was reviewed: nothing imported.",
            ),
            **error_responses(403),
        },
    )
    def post(self, request: Request) -> Response:
        """Preview what importing the files would create, change or leave alone; with
        ``confirm`` and the preview's token as ``reviewed``, import it (all or nothing)."""
        data = self._payload(request)
        ctx = audit_context(request)
        with refusals_as_http():
            try:
                files = read_upload([(f.name or "", f.read()) for f in data["files"]])
            except RosterUnreadable as exc:
                raise RosterRefused(str(exc)) from exc
            if data["confirm"]:
                plan = apply_roster(ctx, files, data["school_source_id"], reviewed=data["reviewed"])
                return Response(plan.as_dict(), status=status.HTTP_201_CREATED)
            plan = plan_roster(ctx.organization, files, data["school_source_id"])
        record_roster_preview(ctx, plan)
        return Response(plan.as_dict())

    def _payload(self, request: Request) -> dict[str, Any]:
        try:
            form = request.data
        except TooManyFilesSent as exc:  # Django stops parsing past DATA_UPLOAD_MAX_NUMBER_FILES
            raise serializers.ValidationError({"files": ["Too many files: send a zip."]}) from exc
        payload = RosterUploadSerializer(data=form)
        payload.is_valid(raise_exception=True)
        return dict(payload.validated_data)
