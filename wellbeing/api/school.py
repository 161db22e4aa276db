"""The caller's own school and its settings (GET, and PATCH for admins).

There is no school id in the URL: an admin can only ever address their own school, so another
school's settings cannot even be named.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wellbeing.actions import SCHOOL_SETTINGS, update_school_settings
from wellbeing.api.error_docs import error_responses
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.models import Organization
from wellbeing.permissions import IsOrgAdmin
from wellbeing.retention_limits import RETENTION_BOUNDS, bounds_message, retention_problems

MAX_ALERT_CONTACTS = 10


class SchoolSettingsSerializer(serializers.ModelSerializer[Organization]):
    alert_contacts = serializers.ListField(
        child=serializers.EmailField(),
        max_length=MAX_ALERT_CONTACTS,
        required=False,
        help_text="E-mail addresses for escalations, in order.",
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "jurisdiction", *SCHOOL_SETTINGS]
        read_only_fields = ["name", "slug", "jurisdiction"]
        # Bounds and their reasons live in wellbeing.retention_limits (Organization.clean too).
        extra_kwargs: dict[str, dict[str, Any]] = {
            name: {
                "min_value": bounds.low,
                "max_value": bounds.high,
                "error_messages": dict.fromkeys(("min_value", "max_value"), bounds_message(name)),
            }
            for name, bounds in RETENTION_BOUNDS.items()
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Periods checked together (the audit log outlives the data it audits), using the
        stored value of each period the request leaves out."""
        periods = {name: attrs.get(name, getattr(self.instance, name)) for name in RETENTION_BOUNDS}
        problems = retention_problems(periods)
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class SchoolSettingsView(APIView):
    permission_classes = [IsOrgAdmin]

    @extend_schema(responses={200: SchoolSettingsSerializer, **error_responses(403)})
    def get(self, request: Request) -> Response:
        """Your school's settings (admin)."""
        return Response(SchoolSettingsSerializer(current_staff(request).organization).data)

    @extend_schema(
        request=SchoolSettingsSerializer(partial=True),
        responses={200: SchoolSettingsSerializer, **error_responses(400, 403)},
    )
    def patch(self, request: Request) -> Response:
        """Change your school's time zone, retention periods or alert contacts (admin)."""
        school = current_staff(request).organization
        payload = SchoolSettingsSerializer(school, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        if not payload.validated_data:
            raise ValidationError(
                {"non_field_errors": [f"Send one or more of: {', '.join(SCHOOL_SETTINGS)}."]}
            )
        updated = update_school_settings(audit_context(request), **payload.validated_data)
        return Response(SchoolSettingsSerializer(updated).data)
