"""Read-only admin views of the time series: numbers only, never editable by hand.

Rows of a participant are also audited when viewed (wellbeing.admin_audit).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from capture import models
from wellbeing.admin_audit import AuditedParticipantDataAdmin


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.ProcessedFrame)
class ProcessedFrameAdmin(AuditedParticipantDataAdmin):
    list_display = ("frame_id", "session", "captured_at", "faces", "recognised")


@admin.register(models.Observation)
class ObservationAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "session", "captured_at", "emotion", "engaged", "quality")
    list_filter = ("emotion",)


@admin.register(models.MinuteAggregate)
class MinuteAggregateAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "session", "minute", "n")


@admin.register(models.SessionTotal)
class SessionTotalAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "session", "day", "n", "minutes_observed")


@admin.register(models.PresenceTally)
class PresenceTallyAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "session", "first_seen", "last_seen", "frames_not_assessable")


@admin.register(models.DailyRollup)
class DailyRollupAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "day", "n", "minutes_observed", "sessions")
