"""API representations of wellbeing's own objects (classrooms, caseloads) and the
school-scoped id field every app's serializers use. Serializers parse and validate; they never
change the database.

Ids inside payloads (classrooms, counselors, participants) are looked up only in the caller's
school, so another school's id gets the same "does not exist" error as an unknown id.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from wellbeing.models import (
    CaseloadAssignment,
    Classroom,
    FaceDetector,
    Role,
    StaffMember,
)


class SchoolScopedField(serializers.PrimaryKeyRelatedField):
    """A primary key that must name a row of the caller's school (``context["staff"]``)."""

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        assert queryset is not None  # every use passes queryset=
        return queryset.filter(organization=self.context["staff"].organization)


class CaseloadRequestSerializer(serializers.Serializer):
    counselor = SchoolScopedField(queryset=StaffMember.objects.active().filter(role=Role.COUNSELOR))


class CaseloadAssignmentSerializer(serializers.ModelSerializer):
    counselor_username = serializers.CharField(source="counselor.user.username", read_only=True)

    class Meta:
        model = CaseloadAssignment
        fields = ["id", "counselor", "counselor_username", "participant", "assigned_at"]
        read_only_fields = fields


class ClassroomSerializer(serializers.ModelSerializer):
    class Meta:
        model = Classroom
        fields = ["id", "name", "grade", "detector"]


class ClassroomWriteSerializer(serializers.Serializer):
    """Fields an admin may set; on PATCH each is optional, ``teachers`` replaces the set."""

    name = serializers.CharField(max_length=120)
    grade = serializers.CharField(max_length=32, allow_blank=True, required=False)
    teachers = SchoolScopedField(
        many=True, queryset=StaffMember.objects.filter(role=Role.TEACHER), required=False
    )
    detector = serializers.ChoiceField(
        choices=FaceDetector.choices,
        required=False,
        help_text="Face detector for this classroom's camera: rfb (default; a CNN that finds "
        "faces from ~16 px, back rows included) or hog (legacy; faces from ~70 px only).",
    )

    def validate_name(self, value: str) -> str:
        # Names are unique per school (a database constraint); say so instead of failing there.
        taken = Classroom.objects.filter(
            organization=self.context["staff"].organization, name=value.strip()
        )
        if self.context.get("classroom") is not None:
            taken = taken.exclude(pk=self.context["classroom"].pk)
        if taken.exists():
            raise serializers.ValidationError("Your school already has a classroom of that name.")
        return value.strip()
