"""Consent notices, consent records and encrypted face templates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from wellbeing.models import Organization, Participant, StaffMember


class Scope(models.TextChoices):
    EMOTION_ANALYSIS = "emotion_analysis", "Emotion analysis"
    FACE_TEMPLATE = "face_template", "Face template (biometric)"


ALL_SCOPES: tuple[str, ...] = tuple(Scope.values)


class ConsentNoticeQuerySet(models.QuerySet["ConsentNotice"]):
    def current_for(self, organization: Organization) -> ConsentNotice | None:
        return self.filter(organization=organization).order_by("-version").first()


class ConsentNotice(models.Model):
    """A versioned text telling families what is processed, why and for how long.

    The highest version of an organization is the current one; publishing a new version means
    every participant needs fresh consent.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notices")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="What is processed, why, and for how long.")
    published_at = models.DateTimeField(default=timezone.now)

    objects = ConsentNoticeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "version"], name="notice_version")
        ]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Decision(models.TextChoices):
    GRANT = "grant", "Consent given"
    REFUSE = "refuse", "Refused / objected"


class GivenBy(models.TextChoices):
    GUARDIAN = "guardian", "Guardian"
    STUDENT = "student", "The student themself"


class ConsentRecordQuerySet(models.QuerySet["ConsentRecord"]):
    def in_force(self) -> ConsentRecordQuerySet:
        """Records not withdrawn (a withdrawn grant or refusal no longer counts)."""
        return self.filter(withdrawn_at__isnull=True)


class ConsentRecord(models.Model):
    """One decision by a guardian or the student about some scopes under one notice version.

    A refusal by the student or an objection by any guardian overrides any grant (see
    consent.rules.consent_state).
    """

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="consent_records"
    )
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT, related_name="records")
    scopes = models.JSONField(help_text="List of scopes this decision covers.")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    given_by = models.CharField(max_length=8, choices=GivenBy.choices)
    guardian = models.ForeignKey(
        "wellbeing.Guardian", null=True, blank=True, on_delete=models.SET_NULL
    )
    evidence_reference = models.CharField(
        max_length=200, help_text="e.g. signed form number or scanned-form reference"
    )
    evidence_date = models.DateField()
    recorded_by = models.ForeignKey(
        StaffMember, null=True, on_delete=models.SET_NULL, related_name="recorded_consents"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_note = models.CharField(max_length=300, blank=True)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["participant", "withdrawn_at"])]
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.participant} {self.decision} {','.join(self.scopes)} v{self.notice.version}"


class FaceTemplate(models.Model):
    """One face embedding of a participant, encrypted at rest (see consent.template_crypto).

    The photo it came from is never stored.
    """

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="face_templates"
    )
    ciphertext = models.BinaryField()
    embedder = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"template of {self.participant} ({self.embedder})"


class ConsentRequestQuerySet(models.QuerySet["ConsentRequest"]):
    def live(self) -> ConsentRequestQuerySet:
        """Requests not superseded by a newer link (a reminder or a new request)."""
        return self.filter(superseded_at__isnull=True)

    def unanswered(self) -> ConsentRequestQuerySet:
        return self.live().filter(answered_at__isnull=True)


class ConsentRequest(models.Model):
    """One e-mailed, one-time link asking one signer (a guardian, or the student) to answer.

    Only the SHA-256 of the link's token is stored. A link works until it is used, expires, or
    is superseded by a newer link to the same signer (consent.online_consent).
    """

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="consent_requests"
    )
    signer = models.CharField(max_length=8, choices=GivenBy.choices)
    guardian = models.ForeignKey(
        "wellbeing.Guardian",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consent_requests",
    )
    email = models.EmailField(help_text="The address the link was sent to.")
    token_hash = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    # {scope: "grant" | "refuse"} as answered; the ConsentRecords hold the decision itself.
    answer = models.JSONField(default=dict, blank=True)
    records = models.ManyToManyField(ConsentRecord, blank=True, related_name="+")

    objects = ConsentRequestQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["participant", "superseded_at"])]
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"consent request to {self.get_signer_display()} of {self.participant}"


class PortalLink(models.Model):
    """One e-mailed sign-in link to the family portal of one school (consent.portal).

    Only the SHA-256 of the link's token is stored. A link signs in once, before
    ``expires_at``; the session it opens is the portal's, never a staff sign-in.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="portal_links"
    )
    email = models.EmailField(help_text="The address the link was sent to (lower case).")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "email"], name="portal_link_org_email")]

    def __str__(self) -> str:
        return f"portal link of {self.organization} ({self.created_at:%Y-%m-%d %H:%M})"
