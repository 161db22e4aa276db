from __future__ import annotations

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest

from capture.admin import ReadOnlyAdmin
from privacy import models
from wellbeing.admin_audit import AuditedParticipantDataAdmin


@admin.register(models.ErasureRequest)
class ErasureRequestAdmin(AuditedParticipantDataAdmin):
    """Requests are handled at /privacy/erasure/: marking one completed here would erase nothing."""

    list_display = ("participant_pseudonym", "organization", "status", "received_at", "due_at")
    list_filter = ("status", "organization")


@admin.register(models.DeidentifiedDailyTotal)
class DeidentifiedDailyTotalAdmin(ReadOnlyAdmin):
    """Lists only rows pooled from at least the school's min_group_size people: a smaller row
    is one withdrawn student's day to anyone who knows who withdrew."""

    list_display = ("organization", "grade", "day", "participants", "n")

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.DeidentifiedDailyTotal]:
        shown = F("organization__min_group_size")
        return super().get_queryset(request).filter(participants__gte=shown)
