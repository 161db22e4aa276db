from django.contrib import admin

from consent import models


@admin.register(models.ConsentNotice)
class ConsentNoticeAdmin(admin.ModelAdmin[models.ConsentNotice]):
    list_display = ("title", "organization", "version", "published_at")


@admin.register(models.ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin[models.ConsentRecord]):
    list_display = ("participant", "decision", "given_by", "notice", "recorded_at", "withdrawn_at")
    list_filter = ("decision", "given_by")


@admin.register(models.FaceTemplate)
class FaceTemplateAdmin(admin.ModelAdmin[models.FaceTemplate]):
    list_display = ("participant", "embedder", "created_at")
    # The ciphertext is never shown, not even encrypted.
    exclude = ("ciphertext",)
    readonly_fields = ("participant", "embedder", "created_at", "created_by")

    def has_add_permission(self, request: object) -> bool:
        return False  # templates are only made by enrollment
