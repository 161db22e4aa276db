from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from consent import models
from wellbeing.admin_audit import AuditedParticipantDataAdmin


class ThroughActionsOnly(admin.ModelAdmin[Any]):
    """Viewable, never changed here.

    A consent change has effects (templates destroyed, data deleted or de-identified, alerts
    closed, all audited) that only the consent pages and API bring about, through
    consent.actions. Editing a record here would skip them: deleting an objection would even
    restore processing silently.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.ConsentNotice)
class ConsentNoticeAdmin(ThroughActionsOnly):
    list_display = ("title", "organization", "version", "published_at")


@admin.register(models.ConsentRecord)
class ConsentRecordAdmin(AuditedParticipantDataAdmin):
    """Through the actions only (see ThroughActionsOnly), and every read audited."""

    list_display = ("participant", "decision", "given_by", "notice", "recorded_at", "withdrawn_at")
    list_filter = ("decision", "given_by")


@admin.register(models.FaceTemplate)
class FaceTemplateAdmin(AuditedParticipantDataAdmin):
    list_display = ("participant", "embedder", "created_at")
    # The ciphertext is never shown, not even encrypted.
    exclude = ("ciphertext",)
    readonly_fields = ("participant", "embedder", "created_at", "created_by")
    # Made by enrollment, destroyed by consent.actions.destroy_templates (audited) only.


@admin.register(models.ConsentRequest)
class ConsentRequestAdmin(AuditedParticipantDataAdmin):
    """E-mailed consent requests (consent.online_consent): sent, reminded and answered through
    its pages only; the link's token exists only as a hash, which is not shown either."""

    list_display = ("participant", "signer", "sent_at", "expires_at", "answered_at")
    list_filter = ("signer",)
    exclude = ("token_hash",)


@admin.register(models.PortalLink)
class PortalLinkAdmin(ThroughActionsOnly):
    """Family portal sign-in links (consent.portal): made and used through the portal only; the
    link's token exists only as a hash, which is not shown either."""

    list_display = ("organization", "created_at", "expires_at", "used_at")
    exclude = ("token_hash",)
