from __future__ import annotations

from django.contrib import admin

from capture.admin import ReadOnlyAdmin
from consent.admin import ThroughActionsOnly
from privacy import models


@admin.register(models.ErasureRequest)
class ErasureRequestAdmin(ThroughActionsOnly):
    """Requests are handled at /privacy/erasure/: marking one completed here would erase nothing."""

    list_display = ("participant_pseudonym", "organization", "status", "received_at", "due_at")
    list_filter = ("status", "organization")


@admin.register(models.DeidentifiedDailyTotal)
class DeidentifiedDailyTotalAdmin(ReadOnlyAdmin):
    list_display = ("organization", "grade", "day", "n")
