"""Staff of the caller's school (admins only): list, invite, change role, (de/re)activate.

Another school's member id is a 404; a refusal of wellbeing.staff_management (last admin,
caseload without a successor, repeated state) is a 400 with its reason; nothing changes then.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from wellbeing.api.error_docs import error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.api.serializers import SchoolScopedField
from wellbeing.models import Role, StaffMember
from wellbeing.permissions import IsOrgAdmin
from wellbeing.staff_management import (
    Handover,
    change_staff_role,
    deactivate_staff,
    email_in_use,
    invite_staff,
    normalize_email,
    reactivate_staff,
    send_invitation,
    staff_status,
)


class StaffSerializer(serializers.ModelSerializer[StaffMember]):
    name = serializers.CharField(source="user.get_full_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="active, invited (no password chosen yet) or deactivated."
    )
    last_login = serializers.DateTimeField(source="user.last_login", read_only=True)
    caseload_count = serializers.IntegerField(read_only=True, help_text="Counselors' students.")

    class Meta:
        model = StaffMember
        fields = ["id", "name", "email", "username", "role", "status", "last_login"]
        fields += ["caseload_count"]
        read_only_fields = fields

    def get_status(self, member: StaffMember) -> str:
        return staff_status(member)


class InvitedStaffSerializer(StaffSerializer):
    invitation_sent = serializers.BooleanField(
        help_text="False when the mail server refused; retry with POST .../invite/."
    )

    class Meta(StaffSerializer.Meta):
        fields = [*StaffSerializer.Meta.fields, "invitation_sent"]
        read_only_fields = fields


class StaffInviteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)

    def validate_email(self, value: str) -> str:
        if email_in_use(value):
            raise serializers.ValidationError("A user with this e-mail address already exists.")
        return normalize_email(value)


class HandoverSerializer(serializers.Serializer):
    """Needed when the member is a counselor with a caseload: a successor, or explicitly none."""

    successor = SchoolScopedField(
        queryset=StaffMember.objects.active().filter(role=Role.COUNSELOR),
        required=False,
        help_text="An active counselor of your school who takes the caseload over.",
    )
    leave_unassigned = serializers.BooleanField(
        default=False, help_text="Drop the caseload (only admins then see those students)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("successor") is not None and attrs.get("leave_unassigned"):
            raise serializers.ValidationError("Give a successor or leave_unassigned, not both.")
        return attrs

    def handover(self) -> Handover:
        data = self.validated_data
        return Handover(data.get("successor"), bool(data.get("leave_unassigned")))


class StaffRoleSerializer(HandoverSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.Serializer):
    invitation_sent = serializers.BooleanField()


class StaffViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[StaffMember],
):
    """Staff of the caller's school (admin)."""

    serializer_class = StaffSerializer
    queryset = StaffMember.objects.none()
    permission_classes = [IsOrgAdmin]

    def get_queryset(self) -> QuerySet[StaffMember]:
        return (
            StaffMember.objects.visible_to(self.request.user)
            .select_related("user")
            .annotate(caseload_count=Count("caseload"))
            .order_by("user__first_name", "user__username", "pk")
        )

    def _payload(self, serializer_class: type[serializers.Serializer], request: Request) -> Any:
        payload = serializer_class(data=request.data, context={"staff": current_staff(request)})
        payload.is_valid(raise_exception=True)
        return payload

    def _reloaded(self, member: StaffMember, **extra: Any) -> dict[str, Any]:
        fresh = self.get_queryset().get(pk=member.pk)
        for name, value in extra.items():
            setattr(fresh, name, value)
        serializer = InvitedStaffSerializer if extra else StaffSerializer
        return serializer(fresh).data

    @extend_schema(
        request=StaffInviteSerializer,
        responses={201: InvitedStaffSerializer, **error_responses(400, 403)},
        description="Add a member to your school and e-mail them a set-password link (admin).",
    )
    def create(self, request: Request) -> Response:
        data = self._payload(StaffInviteSerializer, request).validated_data
        with refusals_as_http():
            member, sent = invite_staff(audit_context(request), **data)
        body = self._reloaded(member, invitation_sent=sent)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=StaffRoleSerializer,
        responses={200: StaffSerializer, **error_responses(400, 403, 404)},
        description="Change the member's role; a counselor with a caseload needs ``successor`` "
        "or ``leave_unassigned``; the last admin who can sign in keeps the role (admin).",
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        member = self.get_object()
        payload = self._payload(StaffRoleSerializer, request)
        with refusals_as_http():
            change_staff_role(
                audit_context(request), member, payload.validated_data["role"], payload.handover()
            )
        return Response(self._reloaded(member))

    @extend_schema(
        request=HandoverSerializer,
        responses={200: StaffSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        """Stop the member signing in; a counselor's caseload goes to ``successor`` or, with
        ``leave_unassigned``, to nobody. The last admin who can sign in is refused."""
        member = self.get_object()
        payload = self._payload(HandoverSerializer, request)
        with refusals_as_http():
            deactivate_staff(audit_context(request), member, payload.handover())
        return Response(self._reloaded(member))

    @extend_schema(request=None, responses={200: StaffSerializer, **error_responses(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str | None = None) -> Response:
        """Let a deactivated member sign in again."""
        member = self.get_object()
        with refusals_as_http():
            reactivate_staff(audit_context(request), member)
        return Response(self._reloaded(member))

    @extend_schema(
        request=None, responses={200: InvitationSerializer, **error_responses(400, 403, 404)}
    )
    @action(detail=True, methods=["post"])
    def invite(self, request: Request, pk: str | None = None) -> Response:
        """E-mail a fresh set-password link to a member who has not chosen a password yet."""
        member = self.get_object()
        with refusals_as_http():
            sent = send_invitation(audit_context(request), member)
        return Response(InvitationSerializer({"invitation_sent": sent}).data)
