"""REST API for alerts and rules: parse, check permission, call a workflow action, serialize.

Access: admins see their organization's alerts, counselors their caseload's (others are 404);
teachers get 403 everywhere. Rules: admins and counselors read, admins create and edit (an
edit is a new version).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from alerts.models import Alert, AlertEvent, AlertState, Rule
from alerts.views import by_severity_then_age
from alerts.workflow import (
    EDITABLE_RULE_FIELDS,
    UsefulnessMissing,
    apply_alert_action,
    create_rule,
    update_rule,
)
from wellbeing.actions import record_audit
from wellbeing.api.access import CanSeeIndividuals
from wellbeing.api.audit import record_participant_view
from wellbeing.api.error_docs import error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.permissions import IsOrgAdmin


class AlertEventSerializer(serializers.ModelSerializer[AlertEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AlertEvent
        fields = ["kind", "actor", "note", "detail", "created_at"]

    def get_actor(self, event: AlertEvent) -> str | None:
        return event.actor.user.get_username() if event.actor else None


class AlertSerializer(serializers.ModelSerializer[Alert]):
    participant = serializers.CharField(source="participant.pseudonym", read_only=True)
    participant_id = serializers.IntegerField(read_only=True)
    rule_version = serializers.IntegerField(source="rule.version", read_only=True)
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "participant", "participant_id", "rule_slug", "rule_version", "severity",
            "state", "raised_at", "cleared_at", "acknowledged_at", "closed_at", "closed_reason",
            "useful", "escalation_level", "window_start", "window_end", "evidence", "events",
        ]  # fmt: skip
        read_only_fields = fields


class AlertActionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    useful = serializers.BooleanField(required=False, allow_null=True, default=None)


class RuleSerializer(serializers.ModelSerializer[Rule]):
    class Meta:
        model = Rule
        fields = ["id", "slug", "version", "is_current", "created_at", *EDITABLE_RULE_FIELDS]
        read_only_fields = ["id", "version", "is_current", "created_at"]


class AlertViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Alert],
):
    """Alerts of the caller's school (counselors: their caseload), urgent and oldest first.

    Filter with ``?state=open|acknowledged|resolved|dismissed`` and ``?severity=``.
    """

    serializer_class = AlertSerializer
    permission_classes = [CanSeeIndividuals]
    queryset = Alert.objects.none()

    def get_queryset(self) -> QuerySet[Alert]:
        alerts = Alert.objects.visible_to_staff(current_staff(self.request))
        params = self.request.query_params
        if params.get("state") in AlertState.values:
            alerts = alerts.filter(state=params["state"])
        if params.get("severity"):
            alerts = alerts.filter(severity=params["severity"])
        alerts = alerts.select_related("participant", "rule").prefetch_related(
            "events__actor__user"
        )
        return by_severity_then_age(alerts)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        if page:  # who saw whose alerts: one event per page, naming the pseudonyms shown
            pseudonyms = [alert.participant.pseudonym for alert in page]
            record_audit(audit_context(request), "alert.list", pseudonyms=pseudonyms)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        record_participant_view(audit_context(request), alert.participant, section="alert")
        return Response(self.get_serializer(alert).data)

    def _act(self, request: Request, kind: str) -> Response:
        alert = self.get_object()
        payload = AlertActionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note, useful = payload.validated_data["note"], payload.validated_data["useful"]
        staff, ctx = current_staff(request), audit_context(request)
        with refusals_as_http():
            try:
                alert = apply_alert_action(ctx, staff, alert, kind, note, useful)
            except UsefulnessMissing as exc:  # the same refusal, in words naming the JSON field
                raise UsefulnessMissing("Send useful: true or false.") from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(
        request=AlertActionSerializer,
        responses={200: AlertSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "acknowledge")

    @extend_schema(
        request=AlertActionSerializer,
        responses={200: AlertSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "resolve")

    @extend_schema(
        request=AlertActionSerializer,
        responses={200: AlertSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "dismiss")

    @extend_schema(
        request=AlertActionSerializer,
        responses={200: AlertSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "reopen")

    @extend_schema(
        request=AlertActionSerializer,
        responses={200: AlertSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "rate")


class RuleViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Rule],
):
    """Alert rules of the caller's school. ``?all=1`` lists old versions too.

    PUT/PATCH never changes a version in place: it stores a new version and returns it.
    """

    serializer_class = RuleSerializer
    queryset = Rule.objects.none()

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [CanSeeIndividuals()]
        return [IsOrgAdmin()]

    def get_queryset(self) -> QuerySet[Rule]:
        rules = Rule.objects.visible_to(self.request.user)
        if self.action == "list" and self.request.query_params.get("all") != "1":
            rules = rules.current()
        return rules.order_by("slug", "-version")

    @extend_schema(responses={201: RuleSerializer, **error_responses(400, 403)})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = RuleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        slug = fields.pop("slug")
        with refusals_as_http():
            rule = create_rule(audit_context(request), slug, **fields)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: RuleSerializer, **error_responses(400, 403, 404)})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        payload = RuleSerializer(rule, data=request.data, partial=kwargs.get("partial", False))
        payload.is_valid(raise_exception=True)
        changes = {k: v for k, v in payload.validated_data.items() if k in EDITABLE_RULE_FIELDS}
        with refusals_as_http():
            new = update_rule(audit_context(request), rule, **changes)
        return Response(RuleSerializer(new).data)
