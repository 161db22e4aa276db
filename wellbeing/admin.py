from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from wellbeing import models
from wellbeing.actions import AuditContext, record_classroom_edit
from wellbeing.admin_audit import AuditedParticipantDataAdmin
from wellbeing.otp_devices import BackupCode, BackupCodeDevice


@admin.register(models.Organization)
class OrganizationAdmin(admin.ModelAdmin[models.Organization]):
    list_display = ("name", "jurisdiction", "timezone")
    prepopulated_fields = {"slug": ("name",)}
    # The consent rules change only through the consent rules page or API, which first show
    # whose consent the change ends (consent.rule_changes); a new school gets its
    # jurisdiction's preset when it is saved.
    # The two-factor policy is the school admin's (its page and /api/school/, audited, and they
    # keep each role's start, which the grace period counts from): shown here, not edited.
    readonly_fields = (
        "consent_rules_preset",
        "student_consent_age",
        "guardian_consent_for_biometrics",
        "two_factor_roles",
        "two_factor_required_since",
        "two_factor_grace_days",
    )


@admin.register(models.StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[models.StaffMember]):
    list_display = ("user", "organization", "role")
    list_filter = ("organization", "role")


@admin.register(models.Classroom)
class ClassroomAdmin(admin.ModelAdmin[models.Classroom]):
    list_display = ("name", "organization", "grade", "detector")
    list_filter = ("organization", "detector")

    def save_model(
        self, request: HttpRequest, obj: models.Classroom, form: ModelForm[Any], change: bool
    ) -> None:
        # Audited like the school admins' API changes (the detector changes the workers' CPU
        # cost); the admin saves inside one transaction, so the event and the change go together.
        super().save_model(request, obj, form, change)
        if form.changed_data or not change:
            record_classroom_edit(
                AuditContext.operator(request, obj.organization),
                obj,
                created=not change,
                fields=list(form.changed_data),
                detector_before=form.initial.get("detector"),
            )


# Participant data is view-only here and every read is audited (wellbeing.admin_audit); it
# changes through the pages, the API and the actions. (Devices and sessions: capture.admin.)
class GuardianInline(admin.TabularInline[models.Guardian, models.Participant]):
    model = models.Guardian
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Participant)
class ParticipantAdmin(AuditedParticipantDataAdmin):
    list_display = ("pseudonym", "full_name", "organization", "grade")
    list_filter = ("organization",)
    search_fields = ("pseudonym", "full_name")
    inlines = [GuardianInline]


@admin.register(models.Guardian)
class GuardianAdmin(AuditedParticipantDataAdmin):
    list_display = ("name", "relation", "participant")


@admin.register(models.CaseloadAssignment)
class CaseloadAssignmentAdmin(AuditedParticipantDataAdmin):
    list_display = ("counselor", "participant", "assigned_at")


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[models.AuditEvent]):
    list_display = ("created_at", "organization", "actor_label", "action", "participant_pseudonym")
    list_filter = ("organization", "action")
    readonly_fields = [f.name for f in models.AuditEvent._meta.fields]

    # The audit trail is append-only and written by the actions: no forged, edited or deleted
    # events (the retention purge removes old ones in code).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ViewOnlyAdmin(admin.ModelAdmin[Any]):
    """Shown to operators, changed only through the school's own pages and their actions (which
    check, encrypt and audit what the admin form would not)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.IdentityProvider)
class IdentityProviderAdmin(ViewOnlyAdmin):
    # Configured at /staff/sign-in/ (wellbeing.identity_providers); the secret is never shown.
    list_display = ("organization", "kind", "display_name", "enabled", "staff_passwords_allowed")
    exclude = ("client_secret_encrypted",)


@admin.register(BackupCodeDevice)
class BackupCodeDeviceAdmin(ViewOnlyAdmin):
    # Codes exist only as hashes; members make new ones, admins reset them at /staff/two-factor/.
    list_display = ("user", "name", "confirmed")


@admin.register(BackupCode)
class BackupCodeAdmin(ViewOnlyAdmin):
    list_display = ("device",)
    exclude = ("code_hash",)
