"""Django admin: rules (editing saves a new version), policies, alerts and deliveries (read)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from alerts import models
from alerts.forms import RuleNumbersMixin
from alerts.workflow import EDITABLE_RULE_FIELDS, create_rule, update_rule
from wellbeing.actions import AuditContext
from wellbeing.admin_audit import AuditedParticipantDataAdmin


class RuleAdminForm(RuleNumbersMixin):
    """Refuses, as form errors, what save_model could not store (old versions, taken slugs)."""

    class Meta:
        model = models.Rule
        fields = ["organization", "slug", *EDITABLE_RULE_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk and not self.instance.is_current:
            raise forms.ValidationError("Only the current version of a rule can be edited.")
        org, slug = cleaned.get("organization"), cleaned.get("slug")
        taken = models.Rule.objects.filter(organization=org, slug=slug)
        if not self.instance.pk and org is not None and taken.exists():
            raise forms.ValidationError(f"A rule named {slug!r} exists already; edit it instead.")
        return cleaned


@admin.register(models.Rule)
class RuleAdmin(admin.ModelAdmin[models.Rule]):
    form = RuleAdminForm
    list_display = ("name", "organization", "slug", "version", "is_current", "mode", "severity")
    list_filter = ("is_current", "mode", "severity", "signal")
    readonly_fields = ("version", "is_current", "created_at", "created_by")
    fields = ("organization", "slug", *EDITABLE_RULE_FIELDS, *readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A family's organization and slug never change; an edit is a new version of it.
        extra = ("organization", "slug") if obj is not None else ()
        return (*self.readonly_fields, *extra)

    def save_model(self, request: HttpRequest, obj: models.Rule, form: Any, change: bool) -> None:
        """An edit never changes a version in place: it becomes a new current version."""
        ctx = AuditContext.operator(request, obj.organization)
        fields = {name: form.cleaned_data[name] for name in EDITABLE_RULE_FIELDS}
        if change:
            changes = {name: fields[name] for name in form.changed_data if name in fields}
            saved = update_rule(ctx, models.Rule.objects.get(pk=obj.pk), **changes)
        else:
            saved = create_rule(ctx, obj.slug, **fields)
        # The admin redirects to (and messages about) the object it saved: the new version.
        obj.pk, obj.version, obj.is_current = saved.pk, saved.version, saved.is_current


@admin.register(models.AlertPolicy)
class AlertPolicyAdmin(admin.ModelAdmin[models.AlertPolicy]):
    list_display = ("organization", "quiet_start", "quiet_end", "escalation_minutes")


class AlertEventInline(admin.TabularInline[models.AlertEvent, models.Alert]):
    model = models.AlertEvent
    extra = 0
    readonly_fields = ("kind", "actor", "note", "detail", "created_at")
    can_delete = False


@admin.register(models.Alert)
class AlertAdmin(AuditedParticipantDataAdmin):
    list_display = ("pk", "organization", "participant", "rule", "severity", "state", "raised_at")
    list_filter = ("state", "severity")
    readonly_fields = [f.name for f in models.Alert._meta.fields]
    inlines = [AlertEventInline]
    # Raised by the rule engine, handled through alerts.workflow (audited) only.


@admin.register(models.EmailDelivery)
class EmailDeliveryAdmin(AuditedParticipantDataAdmin):
    list_display = ("idempotency_key", "kind", "to_address", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in models.EmailDelivery._meta.fields]
