"""The caller's own school and its settings (GET, and PATCH for admins).

There is no school id in the URL: an admin can only ever address their own school, so another
school's settings cannot even be named.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wellbeing.actions import SCHOOL_SETTINGS, update_school_settings
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.api.error_docs import error_responses
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.models import TWO_FACTOR_MAX_GRACE_DAYS, Organization, Role
from wellbeing.permissions import IsOrgAdmin
from wellbeing.retention_limits import RETENTION_BOUNDS, bounds_message, retention_problems

MAX_ALERT_CONTACTS = 10
# Changed through wellbeing.actions.two_factor.update_two_factor_policy (it records when each
# role's requirement began, which the grace period counts from).
TWO_FACTOR_FIELDS = {"two_factor_roles": "roles", "two_factor_grace_days": "grace_days"}
CONSENT_RULE_FIELDS = [
    "consent_rules_preset",
    "student_consent_age",
    "guardian_consent_for_biometrics",
]


class SchoolSettingsSerializer(serializers.ModelSerializer[Organization]):
    alert_contacts = serializers.ListField(
        child=serializers.EmailField(),
        max_length=MAX_ALERT_CONTACTS,
        required=False,
        help_text="E-mail addresses for escalations, in order.",
    )
    two_factor_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        max_length=len(Role.choices),
        required=False,
        help_text="Staff roles that must sign in with two-factor (empty: nobody must).",
    )
    two_factor_grace_days = serializers.IntegerField(
        min_value=0,
        max_value=TWO_FACTOR_MAX_GRACE_DAYS,
        required=False,
        help_text="Days existing staff may still sign in without two-factor once it is required.",
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "jurisdiction", *SCHOOL_SETTINGS, *CONSENT_RULE_FIELDS]
        fields += [*TWO_FACTOR_FIELDS, "two_factor_required_since"]
        # The consent rules are shown here but changed through /api/consent-rules/, which first
        # reviews whose consent the change ends (consent.rule_changes).
        read_only_fields = [
            "name",
            "slug",
            "jurisdiction",
            *CONSENT_RULE_FIELDS,
            "two_factor_required_since",
        ]
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
        roles = attrs.get("two_factor_roles", [])
        if len(set(roles)) != len(roles):
            problems["two_factor_roles"] = "Name each role at most once."
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
        """Change your school's time zone, retention periods, alert contacts, whether the
        family portal shows expression charts, or two-factor policy (admin)."""
        school = current_staff(request).organization
        payload = SchoolSettingsSerializer(school, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        if not payload.validated_data:
            names = [*SCHOOL_SETTINGS, *TWO_FACTOR_FIELDS]
            raise ValidationError(
                {"non_field_errors": [f"Send one or more of: {', '.join(names)}."]}
            )
        changes = dict(payload.validated_data)
        policy = {new: changes.pop(old) for old, new in TWO_FACTOR_FIELDS.items() if old in changes}
        with transaction.atomic():
            if policy:
                update_two_factor_policy(audit_context(request), **policy)
            if changes:
                update_school_settings(audit_context(request), **changes)
        school.refresh_from_db()
        return Response(SchoolSettingsSerializer(school).data)
