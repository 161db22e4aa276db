"""Classroom endpoints: parse, check permission, call an action, serialize.

Participants, consent records and notices are consent's (consent.api).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from wellbeing.actions import create_classroom, update_classroom
from wellbeing.api.error_docs import error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.api.serializers import ClassroomSerializer, ClassroomWriteSerializer
from wellbeing.models import Classroom
from wellbeing.permissions import IsOrgAdmin, IsStaffMember


class ClassroomViewSet(SchoolObjectMixin, viewsets.ReadOnlyModelViewSet[Classroom]):
    """Classrooms the caller may see: the school's (admins, counselors) or their own (teachers).
    Admins add and change them."""

    serializer_class = ClassroomSerializer
    queryset = Classroom.objects.none()

    def get_permissions(self) -> list[BasePermission]:
        # Reads: any staff member (the default); writes: admins only.
        return [IsStaffMember() if self.request.method == "GET" else IsOrgAdmin()]

    def get_queryset(self) -> QuerySet[Classroom]:
        return Classroom.objects.visible_to(self.request.user).order_by("name", "pk")

    @extend_schema(
        request=ClassroomWriteSerializer,
        responses={201: ClassroomSerializer, **error_responses(400, 403)},
        description="Add a classroom to the caller's school, with its teachers and face "
        "detector (admin).",
    )
    def create(self, request: Request) -> Response:
        context = {"staff": current_staff(request)}
        payload = ClassroomWriteSerializer(data=request.data, context=context)
        payload.is_valid(raise_exception=True)
        with refusals_as_http():
            classroom = create_classroom(audit_context(request), **payload.validated_data)
        return Response(ClassroomSerializer(classroom).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ClassroomWriteSerializer(partial=True),
        responses={200: ClassroomSerializer, **error_responses(400, 403, 404)},
        description="Rename a classroom, replace its teachers or choose its face detector (admin).",
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        classroom = self.get_object()
        context = {"staff": current_staff(request), "classroom": classroom}
        payload = ClassroomWriteSerializer(data=request.data, partial=True, context=context)
        payload.is_valid(raise_exception=True)
        if not payload.validated_data:
            raise ValidationError({"non_field_errors": ["Send name, grade, teachers or detector."]})
        with refusals_as_http():
            update_classroom(audit_context(request), classroom, **payload.validated_data)
        return Response(ClassroomSerializer(classroom).data)
