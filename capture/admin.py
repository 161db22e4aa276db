"""Read-only admin views of devices, class sessions and the time series: numbers only, never
editable by hand.

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


# A personal device's session is one student's data, and a device names its student: view-only,
# every read audited (wellbeing.admin_audit), changed through the pages, the API and the actions.
@admin.register(models.ClassSession)
class ClassSessionAdmin(AuditedParticipantDataAdmin):
    list_display = ("classroom", "status", "started_at", "ended_at", "frames_processed")
    list_filter = ("status",)


@admin.register(models.CaptureDevice)
class CaptureDeviceAdmin(AuditedParticipantDataAdmin):
    list_display = (
        "name",
        "organization",
        "classroom",
        "participant",
        "token_prefix",
        "revoked_at",
    )
    # Viewable only: creating, rotating and revoking go through the pages or the API, which
    # issue the token once, check the owner is of the same school and write the audit trail.
    # (A device added here would have no token, and an empty hash.)


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
