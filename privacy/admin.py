from __future__ import annotations

from django.contrib import admin

from capture.admin import ReadOnlyAdmin
from privacy import models


@admin.register(models.ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin[models.ErasureRequest]):
    list_display = ("participant_pseudonym", "organization", "status", "received_at", "due_at")
    list_filter = ("status", "organization")
    readonly_fields = ("participant", "participant_pseudonym", "completed_at", "handled_by")


@admin.register(models.DeidentifiedDailyTotal)
class DeidentifiedDailyTotalAdmin(ReadOnlyAdmin):
    list_display = ("organization", "grade", "day", "n")
