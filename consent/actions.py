"""Consent and enrollment actions: the only code that changes consent or face templates.

Every action takes an AuditContext (who, from where, which organization), refuses objects of
another organization, writes its audit event, and runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from consent.models import (
    ALL_SCOPES,
    ConsentNotice,
    ConsentRecord,
    Decision,
    FaceTemplate,
    GivenBy,
    Scope,
)
from consent.rules import consent_state
from consent.signals import consent_revoked
from consent.template_crypto import encrypt_embedding, template_cipher
from wellbeing.actions import AuditContext, record_audit
from wellbeing.face_engine import (
    EMBEDDER_NAME,
    check_enrollment_photo,
    compute_enrollment_embedding,
)
from wellbeing.models import Guardian, Participant, StaffMember
from wellbeing.refusals import NotYours, Refused

MAX_ENROLLMENT_PHOTOS = 5
T = TypeVar("T")


class ConsentError(Refused):
    """A consent action was refused; the message says why in plain words."""

    code = "consent_refused"


class EnrollmentError(Refused):
    """Enrollment was refused or a photo was unusable; nothing was stored."""

    code = "enrollment_refused"


class LapsesChanged(ConsentError):
    """The number of consents a publication would end is not the number the caller reviewed."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"{actual} consents would lapse, not the {expected} reviewed; review again."
        )
        self.expected, self.actual = expected, actual


def ensure_same_organization(ctx: AuditContext, *objects: object) -> None:
    for obj in objects:
        org_id = getattr(obj, "organization_id", None)
        if org_id is not None and org_id != ctx.organization.pk:
            raise NotYours("That record belongs to another school.")


def publish_notice(
    ctx: AuditContext,
    title: str,
    text: str,
    *,
    confirmed: bool,
    expected_lapses: int | None = None,
) -> ConsentNotice:
    """Publish the next notice version. Existing grants stop counting: fresh consent is needed.

    Every participant who had an active scope gets the full effects of a withdrawal at once
    (templates destroyed, stored numbers deleted or de-identified, alerts closed). Callers must
    have shown those consequences (consent.notice_publication) and pass ``confirmed=True``;
    without it nothing is published. With ``expected_lapses`` (the count the person reviewed)
    it raises LapsesChanged, publishing nothing, unless exactly that many consents lapse; the
    count is taken under the participants' locks, so no consent recorded meanwhile slips by.
    """
    if not confirmed:
        raise ConsentError(
            "Publishing a new notice version ends every active consent and deletes the data "
            "under the school's withdrawal policy; confirm to publish."
        )
    with transaction.atomic():
        latest = ConsentNotice.objects.select_for_update().filter(organization=ctx.organization)
        version = max((n.version for n in latest), default=0) + 1
        participants = list(ctx.organization.participants.all())
        lock_participants(participants)
        before = {p.pk: consent_state(p, ALL_SCOPES).active_scopes for p in participants}
        lapsing = [p for p in participants if before[p.pk]]
        if expected_lapses is not None and len(lapsing) != expected_lapses:
            raise LapsesChanged(expected_lapses, len(lapsing))
        notice = ConsentNotice.objects.create(
            organization=ctx.organization, version=version, title=title, text=text
        )
        record_audit(
            ctx, "notice.publish", target=notice, version=version, consents_lapsed=len(lapsing)
        )
        for participant in participants:
            lost = set(before[participant.pk])  # no grant is valid under the new version yet
            apply_consent_loss(ctx, participant, lost, reason=f"new notice v{version}")
    return notice


def record_consent(
    ctx: AuditContext,
    participant: Participant,
    *,
    scopes: Sequence[str],
    decision: str,
    given_by: str,
    evidence_reference: str,
    evidence_date: dt.date,
    guardian: Guardian | None = None,
    recorded_by: StaffMember | None = None,
) -> ConsentRecord:
    """Record a grant or a refusal/objection under the current notice version."""
    ensure_same_organization(ctx, participant)
    _validate_record(participant, scopes, decision, given_by, guardian, evidence_reference)
    # One day of slack: the school's date may already be tomorrow in UTC terms.
    if evidence_date > timezone.localdate() + dt.timedelta(days=1):
        raise ConsentError("The evidence date is in the future; record the date of the form.")
    notice = ConsentNotice.objects.current_for(participant.organization)
    if notice is None:
        raise ConsentError("Publish a consent notice before recording consent.")
    with transaction.atomic():
        lock_participants([participant])
        before = consent_state(participant, ALL_SCOPES).active_scopes
        record = ConsentRecord.objects.create(
            participant=participant,
            notice=notice,
            scopes=sorted(set(scopes)),
            decision=decision,
            given_by=given_by,
            guardian=guardian,
            evidence_reference=evidence_reference.strip(),
            evidence_date=evidence_date,
            recorded_by=recorded_by,
        )
        record_audit(
            ctx, f"consent.{decision}", target=record, participant=participant, scopes=record.scopes
        )
        after = consent_state(participant, ALL_SCOPES).active_scopes
        apply_consent_loss(ctx, participant, set(before - after), reason=f"{given_by} {decision}")
    return record


def _validate_record(
    participant: Participant,
    scopes: Sequence[str],
    decision: str,
    given_by: str,
    guardian: Guardian | None,
    evidence_reference: str,
) -> None:
    unknown = set(scopes) - set(ALL_SCOPES)
    if not scopes or unknown:
        raise ConsentError(f"Choose one or more scopes from {', '.join(ALL_SCOPES)}.")
    if decision not in Decision.values or given_by not in GivenBy.values:
        raise ConsentError("Unknown decision or person giving it.")
    if given_by == GivenBy.GUARDIAN and guardian is None:
        raise ConsentError("Name the guardian who gave this decision.")
    if given_by == GivenBy.STUDENT and guardian is not None:
        raise ConsentError("The student's own decision names no guardian.")
    if guardian is not None and guardian.participant_id != participant.pk:
        raise ConsentError("That guardian is not recorded for this participant.")
    if not evidence_reference.strip():
        raise ConsentError("Record the evidence (e.g. signed form reference).")


def withdraw_consent(
    ctx: AuditContext, record: ConsentRecord, *, by: StaffMember | None = None, note: str = ""
) -> ConsentRecord:
    """Withdraw a record with immediate effect (a withdrawn objection lifts the objection)."""
    ensure_same_organization(ctx, record.participant)
    if record.withdrawn_at is not None:
        raise ConsentError("This record was already withdrawn.")
    participant = record.participant
    with transaction.atomic():
        lock_participants([participant])
        before = consent_state(participant, ALL_SCOPES).active_scopes
        record.withdrawn_at = timezone.now()
        record.withdrawn_by = by
        record.withdrawal_note = note[:300]
        record.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_note"])
        record_audit(ctx, "consent.withdraw", target=record, participant=participant, note=note)
        after = consent_state(participant, ALL_SCOPES).active_scopes
        apply_consent_loss(ctx, participant, set(before - after), reason="withdrawal")
    return record


def lock_participants(participants: Sequence[Participant]) -> None:
    """Lock the participants' rows until the consent change commits.

    The worker stores a frame's observations under the same locks after re-checking consent
    (capture.gallery.lock_consented), so a frame analysed while consent is withdrawn stores
    nothing of the person once the withdrawal has committed. Primary-key order: no deadlocks.
    """
    ids = sorted(p.pk for p in participants)
    list(
        Participant.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def apply_consent_loss(
    ctx: AuditContext, participant: Participant, lost: set[str], reason: str
) -> None:
    """Effects of scopes that just stopped being active: destroy templates, tell other apps."""
    if not lost:
        return
    if Scope.FACE_TEMPLATE in lost:
        destroy_templates(ctx, participant, reason=reason)
    consent_revoked.send(
        sender=Participant, participant=participant, scopes=frozenset(lost), ctx=ctx
    )


def destroy_templates(ctx: AuditContext, participant: Participant, *, reason: str) -> int:
    """Delete every face template of the participant at once; returns how many."""
    deleted, _ = FaceTemplate.objects.filter(participant=participant).delete()
    if deleted:
        record_audit(ctx, "template.destroy", participant=participant, count=deleted, reason=reason)
    return deleted


def _photo_step(index: int, step: Callable[[bytes], T], data: bytes) -> T:
    """``step(data)``; a ValueError becomes an EnrollmentError that names the photo."""
    try:
        return step(data)
    except ValueError as exc:
        raise EnrollmentError(f"Photo {index}: {exc}") from exc


def enroll_face(
    ctx: AuditContext, participant: Participant, photos: Sequence[bytes]
) -> list[FaceTemplate]:
    """Compute one encrypted template per photo; the photos are discarded by the caller.

    Refuses without active face_template consent or with 0 or more than 5 photos. All photos
    are checked before anything is stored, so one bad photo stores nothing; their headers are
    checked before any is decoded (wellbeing.face_engine bounds what decoding costs).
    """
    ensure_same_organization(ctx, participant)
    if not 1 <= len(photos) <= MAX_ENROLLMENT_PHOTOS:
        raise EnrollmentError(f"Upload between 1 and {MAX_ENROLLMENT_PHOTOS} photos.")
    state = consent_state(participant, [Scope.FACE_TEMPLATE])
    if not state.allows(Scope.FACE_TEMPLATE):
        why = state.reasons.get(Scope.FACE_TEMPLATE, "")
        raise EnrollmentError(f"Enrollment refused: no active face_template consent ({why}).")
    cipher = template_cipher()  # a missing key fails before the face engine does any work
    # Every photo's header first (cheap): an oversized or broken photo is refused before any
    # photo is decoded or analysed.
    for index, data in enumerate(photos, start=1):
        _photo_step(index, check_enrollment_photo, data)
    embeddings = [
        _photo_step(index, compute_enrollment_embedding, data)
        for index, data in enumerate(photos, start=1)
    ]
    with transaction.atomic():
        templates = [
            FaceTemplate.objects.create(
                participant=participant,
                ciphertext=encrypt_embedding(vector, cipher),
                embedder=EMBEDDER_NAME,
                created_by=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
            )
            for vector in embeddings
        ]
        record_audit(ctx, "template.enroll", participant=participant, count=len(templates))
    return templates
