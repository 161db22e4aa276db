"""Django admin: rules (editing saves a new version), policies, alerts and deliveries (read)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from alerts import models
from alerts.workflow import EDITABLE_RULE_FIELDS, check_rule


@admin.register(models.Rule)
class RuleAdmin(admin.ModelAdmin[models.Rule]):
    list_display = ("name", "organization", "slug", "version", "is_current", "mode", "severity")
    list_filter = ("is_current", "mode", "severity", "signal")
    readonly_fields = ("version", "is_current", "created_at", "created_by")

    def save_model(self, request: HttpRequest, obj: models.Rule, form: Any, change: bool) -> None:
        """An edit never changes a version in place: it becomes a new current version."""
        check_rule(obj)
        obj.created_by = request.user  # type: ignore[assignment]
        if not change:
            obj.save()
            return
        old = models.Rule.objects.get(pk=obj.pk)
        if not old.is_current:
            raise ValueError("Only the current version of a rule can be edited.")
        models.Rule.objects.filter(pk=old.pk).update(is_current=False)
        obj.pk = None
        obj.version = old.version + 1
        obj.is_current = True
        obj.save()

    fields = ("organization", "slug", *EDITABLE_RULE_FIELDS, *readonly_fields)


@admin.register(models.AlertPolicy)
class AlertPolicyAdmin(admin.ModelAdmin[models.AlertPolicy]):
    list_display = ("organization", "quiet_start", "quiet_end", "escalation_minutes")


class AlertEventInline(admin.TabularInline[models.AlertEvent, models.Alert]):
    model = models.AlertEvent
    extra = 0
    readonly_fields = ("kind", "actor", "note", "detail", "created_at")
    can_delete = False


@admin.register(models.Alert)
class AlertAdmin(admin.ModelAdmin[models.Alert]):
    list_display = ("pk", "organization", "participant", "rule", "severity", "state", "raised_at")
    list_filter = ("state", "severity")
    readonly_fields = [f.name for f in models.Alert._meta.fields]
    inlines = [AlertEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are raised by the rule engine only


@admin.register(models.EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin[models.EmailDelivery]):
    list_display = ("idempotency_key", "kind", "to_address", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in models.EmailDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
