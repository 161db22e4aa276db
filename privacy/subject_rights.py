"""Data-subject rights: export everything held about a participant; erase it on request.

"Everything" is found, not listed by hand: every model with a foreign key to Participant is
exported, and so are rows that belong to those rows (an alert's history), so data added by a
new app is covered without touching this module.

The same collection serves the school's admins and the family portal. A family (a guardian,
or the student themself) gets the student's personal data under GDPR Art. 15, but not other
people's (Art. 15(4)): another guardian's e-mail address and phone number, e-mail addresses of
anyone but the holder and the student (e.g. of co-guardians in consent requests and evidence,
of staff in alert e-mails), and the network addresses and browsers of whoever accessed the
record are withheld. Who accessed it (their name and role as the access log records it: the
recipients, Art. 15(1)(c)), when and what they did stays.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from consent.actions import lock_participants
from privacy.models import ErasureRequest, ErasureStatus
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import AuditEvent, Participant, StaffMember
from wellbeing.refusals import NotYours, Refused
from wellbeing.spreadsheet import WRITER_OPTIONS, csv_cell

# Secrets and biometric identifiers are described, never exported (see docs/privacy.md).
WITHHELD_FIELDS = {"ciphertext", "token_hash"}
# What a family's export leaves out of the access log: who accessed the record from where.
FAMILY_ACCESS_LOG_WITHHELD = ("actor_id", "ip_address", "user_agent")
OTHERS_DATA = "(withheld: another person's data)"
EMAIL_ADDRESS = re.compile(r"[^\s@()<>\[\],;:\"']+@[^\s@()<>\[\],;:\"']+")
FAMILY_NOTE = (
    "This is the data the school holds about the student. Other people's personal data is "
    "withheld (GDPR Art. 15(4)): other guardians' e-mail addresses and phone numbers, e-mail "
    "addresses of anyone but you and the student, and the network addresses and browsers of "
    "those who accessed the record. The access log names who accessed it, when and what they "
    "did."
)


@dataclass(frozen=True)
class FamilyRecipient:
    """Who receives a family export: the portal holder's address, and their own guardian
    record of the student (None when the holder is the student)."""

    email: str
    guardian_id: int | None = None


class ErasureError(Refused):
    """The erasure request cannot be decided as asked (e.g. it was decided already)."""


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return "(withheld)"
    return value


def _row(obj: models.Model) -> dict[str, Any]:
    return {
        field.attname: _plain(getattr(obj, field.attname))
        if field.name not in WITHHELD_FIELDS
        else "(withheld)"
        for field in obj._meta.concrete_fields
    }


def _foreign_keys(model: type[models.Model]) -> list[models.ForeignKey[Any, Any]]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]


def _related_models() -> list[tuple[str, type[models.Model], str]]:
    """(section name, model, lookup to the participant) for every model holding rows about them.

    Rows that refer to the participant directly, and rows that belong to those rows (an alert's
    history and e-mails, a personal session's frames): one hop further, through links that are
    deleted with the participant (on_delete=CASCADE), i.e. data that exists only because of them.
    """
    direct = [
        (model, field)
        for model in apps.get_models()
        for field in _foreign_keys(model)
        if field.related_model is Participant
    ]
    found = {model._meta.label_lower: (model, field.name) for model, field in direct}
    owners = [(model, field.name) for model, field in direct if _cascades(field)]
    for model in apps.get_models():
        label = model._meta.label_lower
        for field in _foreign_keys(model):
            for owner, owner_field in owners:
                if label not in found and field.related_model is owner:
                    found[label] = (model, f"{field.name}__{owner_field}")
    return sorted((label, model, lookup) for label, (model, lookup) in found.items())


def _cascades(field: models.ForeignKey[Any, Any]) -> bool:
    return field.remote_field.on_delete is models.CASCADE


def collect_participant_data(
    ctx: AuditContext, participant: Participant, family: FamilyRecipient | None = None
) -> dict[str, Any]:
    """Everything held about the participant as JSON-ready sections; the export is audited.

    ``family``: the export for a guardian or the student in the family portal, without other
    people's personal data (see the module's docstring, ``for_family``)."""
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
    data: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "organization": ctx.organization.name,
        "participant": {
            **_row(participant),
            "classrooms": [c.name for c in participant.classrooms.all()],
        },
    }
    for section, model, lookup in _related_models():
        rows = model._default_manager.filter(**{lookup: participant}).order_by("pk")
        data[section] = [_row(obj) for obj in rows.iterator(chunk_size=2000)]
    audit = AuditEvent.objects.filter(
        organization=ctx.organization, participant_pseudonym=participant.pseudonym
    )
    data["access_log"] = [_row(event) for event in audit.order_by("created_at")]
    if family is not None:
        data = for_family(data, participant, family)
    record_audit(ctx, "participant.export", participant=participant,
                 **({"variant": "family"} if family is not None else {}))  # fmt: skip
    return data


def for_family(
    data: dict[str, Any], participant: Participant, family: FamilyRecipient
) -> dict[str, Any]:
    """The export ``data`` without other people's personal data: the holder's own guardian
    record keeps its contacts, every other guardian record loses its e-mail and phone; the
    access log loses who accessed from where (user id, network address, browser); every other
    e-mail address in any section (in consent requests, evidence, alert e-mails, notes) but the
    holder's and the student's is replaced. The student's own record is kept whole."""
    own = {a.lower() for a in (family.email, participant.email) if a}
    family_data: dict[str, Any] = {}
    for section, rows in data.items():
        if section == "participant":
            family_data[section] = rows
            continue
        if section == "access_log":
            rows = [
                {k: v for k, v in row.items() if k not in FAMILY_ACCESS_LOG_WITHHELD}
                for row in rows
            ]
        elif section == "wellbeing.guardian":
            rows = [_guardian_for_family(row, family) for row in rows]
        family_data[section] = _without_others_addresses(rows, own)
    family_data["about_this_export"] = {"note": FAMILY_NOTE}
    return family_data


def _guardian_for_family(row: dict[str, Any], family: FamilyRecipient) -> dict[str, Any]:
    if row["id"] == family.guardian_id:
        return row
    return {**row, **{k: OTHERS_DATA for k in ("email", "phone") if row.get(k)}}


def _without_others_addresses(value: Any, own: set[str]) -> Any:
    """``value`` with every e-mail address not in ``own`` replaced, in strings, lists and dicts
    at any depth."""
    if isinstance(value, str):
        return EMAIL_ADDRESS.sub(
            lambda m: m.group(0) if m.group(0).lower() in own else OTHERS_DATA, value
        )
    if isinstance(value, list):
        return [_without_others_addresses(v, own) for v in value]
    if isinstance(value, dict):
        return {k: _without_others_addresses(v, own) for k, v in value.items()}
    return value


def export_csv_zip(data: dict[str, Any]) -> bytes:
    """One CSV per section in a zip archive (built in memory: it holds numbers, not pictures).

    Cells go through ``csv_cell``: JSON for lists and objects, text that a spreadsheet would run
    as a formula defused.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section, rows in data.items():
            rows = [rows] if isinstance(rows, dict) else rows
            if not isinstance(rows, list):
                continue
            text = io.StringIO()
            columns = sorted({key for row in rows for key in row})
            writer = csv.DictWriter(text, fieldnames=columns, **WRITER_OPTIONS)
            writer.writeheader()
            writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
            archive.writestr(f"{section}.csv", text.getvalue())
    return buffer.getvalue()


def open_erasure_request(
    ctx: AuditContext, participant: Participant, requested_by: str, note: str = ""
) -> ErasureRequest:
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
    request = ErasureRequest.objects.create(
        organization=ctx.organization,
        participant=participant,
        participant_pseudonym=participant.pseudonym,
        requested_by=requested_by,
        note=note,
    )
    record_audit(ctx, "erasure.request", target=request, participant=participant)
    return request


def ask_for_erasure(
    ctx: AuditContext, participant: Participant, requested_by: str, note: str = ""
) -> tuple[ErasureRequest, bool]:
    """The participant's open erasure request, or a new one (``open_erasure_request``); the
    flag says whether it is new. For the family portal, where a second click must not open a
    second request with its own deadline."""
    if participant.organization_id != ctx.organization.pk:
        raise NotYours("That participant belongs to another school.")
    with transaction.atomic():
        lock_participants([participant])
        found = ErasureRequest.objects.open().filter(participant=participant).first()
        if found is not None:
            return found, False
        return open_erasure_request(ctx, participant, requested_by, note), True


def carry_out_erasure(
    ctx: AuditContext, request: ErasureRequest, handled_by: StaffMember | None = None
) -> dict[str, int]:
    """Delete the participant and everything linked to them; the audit trail keeps the pseudonym.

    Returns the number of rows deleted per model. Raises ErasureError if already handled.
    """
    if request.organization_id != ctx.organization.pk:
        raise NotYours("That request belongs to another school.")
    if request.status != ErasureStatus.OPEN or request.participant is None:
        raise ErasureError("This request has already been handled.")
    with transaction.atomic():
        participant = request.participant
        lock_participants([participant])  # a frame being stored finishes first, then goes too
        _, per_model = participant.delete()
        request.participant = None  # the database already set it NULL (on_delete=SET_NULL)
        request.status = ErasureStatus.COMPLETED
        request.completed_at = timezone.now()
        request.handled_by = handled_by
        request.save(update_fields=["participant", "status", "completed_at", "handled_by"])
        record_audit(
            ctx,
            "erasure.complete",
            target=request,
            deleted=dict(per_model),
            pseudonym=request.participant_pseudonym,
        )
    return dict(per_model)


def reject_erasure(
    ctx: AuditContext, request: ErasureRequest, reason: str, handled_by: StaffMember | None
) -> None:
    if request.status != ErasureStatus.OPEN:
        raise ErasureError("This request has already been handled.")
    if not reason.strip():
        raise ErasureError("Give the reason for rejecting the request.")
    request.status = ErasureStatus.REJECTED
    request.completed_at = timezone.now()
    request.handled_by = handled_by
    request.note = f"{request.note}\nRejected: {reason}".strip()
    request.save(update_fields=["status", "completed_at", "handled_by", "note"])
    record_audit(ctx, "erasure.reject", target=request, reason=reason)
