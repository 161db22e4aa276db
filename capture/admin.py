"""Read-only admin views of the time series: numbers only, never editable by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from capture import models


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.ProcessedFrame)
class ProcessedFrameAdmin(ReadOnlyAdmin):
    list_display = ("frame_id", "session", "captured_at", "faces", "recognised")


@admin.register(models.Observation)
class ObservationAdmin(ReadOnlyAdmin):
    list_display = ("participant", "session", "captured_at", "emotion", "engaged", "quality")
    list_filter = ("emotion",)


@admin.register(models.MinuteAggregate)
class MinuteAggregateAdmin(ReadOnlyAdmin):
    list_display = ("participant", "session", "minute", "n")


@admin.register(models.DailyRollup)
class DailyRollupAdmin(ReadOnlyAdmin):
    list_display = ("participant", "day", "n", "minutes_observed", "sessions")
