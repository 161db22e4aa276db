"""Capture-device endpoints (admins only): register, rotate and revoke device tokens.

A token is returned in plain text exactly once, by create or rotate; only its hash is stored.
Mounted at /api/devices/ by the one API router (wellbeing.api_urls).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from capture.devices import create_device, revoke_device, rotate_device_token
from capture.models import CaptureDevice
from capture.serializers import DeviceCreateSerializer, DeviceSerializer, IssuedTokenSerializer
from wellbeing.api.error_docs import error_responses
from wellbeing.api.refusals import SchoolObjectMixin, refusals_as_http
from wellbeing.api.request_context import audit_context, current_staff
from wellbeing.permissions import IsOrgAdmin


class DeviceViewSet(
    SchoolObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[CaptureDevice],
):
    serializer_class = DeviceSerializer
    queryset = CaptureDevice.objects.none()

    def get_permissions(self) -> list[BasePermission]:
        return [IsOrgAdmin()]

    def get_queryset(self) -> QuerySet[CaptureDevice]:
        return CaptureDevice.objects.visible_to(self.request.user).order_by("pk")

    def _issued(self, device: CaptureDevice, token: str, code: int) -> Response:
        data = IssuedTokenSerializer({"device": device, "token": token}).data
        return Response(data, status=code)

    @extend_schema(
        request=DeviceCreateSerializer,
        responses={201: IssuedTokenSerializer, **error_responses(400, 403)},
    )
    def create(self, request: Request) -> Response:
        """Register a device for one classroom or one participant; returns its token once."""
        context = {**self.get_serializer_context(), "staff": current_staff(request)}
        payload = DeviceCreateSerializer(data=request.data, context=context)
        payload.is_valid(raise_exception=True)
        with refusals_as_http():
            device, token = create_device(audit_context(request), **payload.validated_data)
        return self._issued(device, token, status.HTTP_201_CREATED)

    @extend_schema(
        request=None, responses={200: IssuedTokenSerializer, **error_responses(400, 403, 404)}
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        """Issue a new token; the old one stops working at once (400 for a revoked device)."""
        device = self.get_object()
        with refusals_as_http():
            token = rotate_device_token(audit_context(request), device)
        return self._issued(device, token, status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: DeviceSerializer, **error_responses(403, 404)})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke the device for good; its token is refused from now on."""
        device = self.get_object()
        revoke_device(audit_context(request), device)
        return Response(self.get_serializer(device).data)
