"""API representations of capture devices: what the device endpoints (capture.device_api)
accept and return. Serializers parse and validate; they never change the database.

The classroom or participant a device is for is looked up only in the caller's school
(``SchoolScopedField``), so another school's id gets the same "does not exist" error as an
unknown id.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from capture.models import CaptureDevice
from wellbeing.api.serializers import SchoolScopedField
from wellbeing.models import Classroom, Participant


class DeviceSerializer(serializers.ModelSerializer):
    """A capture device; the token itself is never shown again, only its prefix."""

    class Meta:
        model = CaptureDevice
        fields = [
            "id",
            "name",
            "classroom",
            "participant",
            "token_prefix",
            "created_at",
            "rotated_at",
            "revoked_at",
            "last_seen_at",
        ]
        read_only_fields = fields


class DeviceCreateSerializer(serializers.Serializer):
    """Name plus exactly one owner: a classroom camera or a participant's own laptop."""

    name = serializers.CharField(max_length=120)
    classroom = SchoolScopedField(queryset=Classroom.objects.all(), required=False)
    participant = SchoolScopedField(queryset=Participant.objects.all(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("classroom" in attrs) == ("participant" in attrs):
            raise serializers.ValidationError("Give exactly one of classroom or participant.")
        return attrs


class IssuedTokenSerializer(serializers.Serializer):
    device = DeviceSerializer()
    token = serializers.CharField(
        help_text="The device's secret token. Shown only in this response; store it now."
    )
