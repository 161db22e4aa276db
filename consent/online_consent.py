"""Consent collected online: e-mailed one-time links to guardians (and students old enough to
decide), answering them, reminders, and who answered what.

A link carries a random token; only its SHA-256 is stored (``ConsentRequest.token_hash``), so
the database alone cannot open a link. A link works until it is answered, expires
(``CONSENT_REQUEST_EXPIRY_DAYS``) or is superseded by a newer link to the same signer (a new
request or a reminder). Answers go through ``consent.actions.record_consent``, so the consent
rules, objections and withdrawal behave exactly as for a paper form.

A student is asked at the address on their record (``Participant.email``, optional) or one
staff give for a single request, and only when the school's rules let the student's own grant
count at their age (``student_may_decide``); so a class request reaches the students of the
class who are old enough and have an address, as well as every guardian with one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from consent.actions import ConsentError, record_consent
from consent.age_rules import own_grant_refusal
from consent.models import (
    ALL_SCOPES,
    ConsentNotice,
    ConsentRecord,
    ConsentRequest,
    Decision,
    GivenBy,
)
from consent.rules import SchoolContext
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Guardian, Participant, StaffMember


class LinkUnusable(ConsentError):
    """The link is unknown, already answered, superseded or expired; ``reason`` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh link token and its hash (the token itself is never stored)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def link_url(token: str) -> str:
    return settings.SITE_URL + reverse("consent:consent_answer", args=[token])


def student_may_decide(school: SchoolContext, participant: Participant) -> bool:
    """Whether the school's rules let the student's own grant count for some scope today."""
    age = school.subject(participant).age
    return any(own_grant_refusal(school.rules, age, scope) is None for scope in ALL_SCOPES)


@dataclass
class SendReport:
    """What a send did: links e-mailed, and the people who could not be asked (and why)."""

    sent: list[ConsentRequest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def send_consent_requests(
    ctx: AuditContext,
    participants: Iterable[Participant],
    *,
    sent_by: StaffMember | None,
    student_emails: Mapping[int, str] | None = None,
) -> SendReport:
    """E-mail a link to every guardian with an address of each participant, and to the student
    at the address ``student_emails`` gives, else the one on their record, when the rules let
    their grant count. A newer link supersedes an unanswered older one to the same signer.
    Refuses without a notice."""
    school = SchoolContext.load(ctx.organization)
    if school.notice is None:
        raise ConsentError("Publish a consent notice before asking for consent.")
    report = SendReport()
    for participant in participants:
        if participant.organization_id != ctx.organization.pk:
            raise ConsentError("That student belongs to another school.")
        for guardian in participant.guardians.all():
            if not guardian.email:
                report.skipped.append(f"{guardian.name} ({participant.full_name}): no e-mail")
                continue
            report.sent.append(_send(ctx, participant, guardian.email, guardian, sent_by))
        address = ((student_emails or {}).get(participant.pk) or participant.email).strip()
        if address and student_may_decide(school, participant):
            report.sent.append(_send(ctx, participant, address, None, sent_by))
        elif address:
            report.skipped.append(f"{participant.full_name}: below the age to decide alone")
    return report


def _send(
    ctx: AuditContext,
    participant: Participant,
    email: str,
    guardian: Guardian | None,
    sent_by: StaffMember | None,
    reminders_sent: int = 0,
) -> ConsentRequest:
    signer = GivenBy.GUARDIAN if guardian is not None else GivenBy.STUDENT
    token, digest = new_token()
    now = timezone.now()
    with transaction.atomic():
        older = ConsentRequest.objects.unanswered().filter(
            participant=participant, signer=signer, guardian=guardian
        )
        older.update(superseded_at=now)
        request = ConsentRequest.objects.create(
            participant=participant,
            signer=signer,
            guardian=guardian,
            email=email,
            token_hash=digest,
            sent_at=now,
            expires_at=now + dt.timedelta(days=settings.CONSENT_REQUEST_EXPIRY_DAYS),
            sent_by=sent_by,
            reminders_sent=reminders_sent,
        )
        action = "consent_request.remind" if reminders_sent else "consent_request.send"
        record_audit(ctx, action, target=request, participant=participant, signer=signer)
        transaction.on_commit(lambda: _mail(request, token))
    return request


def _mail(request: ConsentRequest, token: str) -> None:
    org = request.participant.organization
    context = {
        "org": org,
        "request": request,
        "url": link_url(token),
        "name": request.participant.full_name if org.email_includes_student_name else "",
        "reminder": request.reminders_sent > 0,
    }
    subject = f"{org.name}: your consent is asked for"
    body = render_to_string("consent/consent_request_email.txt", context)
    send_mail(subject, body, None, [request.email])


def request_for_token(token: str, now: dt.datetime | None = None) -> ConsentRequest:
    """The live request of a link, or LinkUnusable saying why it cannot be used."""
    found = (
        ConsentRequest.objects.select_related("participant__organization", "guardian")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if found is None:
        raise LinkUnusable("unknown", "This link is not valid. Ask the school for a new one.")
    if found.answered_at is not None:
        raise LinkUnusable("answered", "This link was already used; your answer is recorded.")
    if found.superseded_at is not None:
        raise LinkUnusable("superseded", "A newer link was sent to you; please use that one.")
    if found.expires_at <= (now or timezone.now()):
        raise LinkUnusable("expired", "This link has expired. Ask the school for a new one.")
    return found


def link_context(request: ConsentRequest, ip: str | None, agent: str) -> AuditContext:
    """The audit context of the link's holder (no staff member acts)."""
    who = request.guardian.name if request.guardian else "the student"
    label = f"{request.get_signer_display().lower()} {who} (consent link)"
    org = request.participant.organization
    return AuditContext(organization=org, actor_label=label[:150], ip_address=ip, user_agent=agent)


def open_consent_request(ctx: AuditContext, request: ConsentRequest) -> ConsentNotice:
    """Note that the link was opened (audited each time) and return the notice to show."""
    if request.opened_at is None:
        request.opened_at = timezone.now()
        request.save(update_fields=["opened_at"])
    record_audit(ctx, "consent_request.open", target=request, participant=request.participant)
    notice = ConsentNotice.objects.current_for(request.participant.organization)
    if notice is None:
        raise LinkUnusable("no_notice", "The school has no consent notice at the moment.")
    return notice


def answer_consent_request(
    ctx: AuditContext, token: str, decisions: Mapping[str, str], notice_version: int
) -> ConsentRequest:
    """Record the signer's grant or refusal of each scope under the current notice, once.

    Refuses (changing nothing) when the link cannot be used or the notice changed since the
    page was shown (``notice_version``), so nobody answers a text they did not read."""
    if set(decisions) != set(ALL_SCOPES) or set(decisions.values()) - set(Decision.values):
        raise ConsentError("Answer yes or no for each kind of processing.")
    with transaction.atomic():
        request = request_for_token(token)
        request = ConsentRequest.objects.select_for_update().get(pk=request.pk)
        if request.answered_at is not None or request.superseded_at is not None:
            raise LinkUnusable("answered", "This link was already used; your answer is recorded.")
        participant = request.participant
        notice = ConsentNotice.objects.current_for(participant.organization)
        if notice is None or notice.version != notice_version:
            raise ConsentError("The school changed its notice meanwhile; please read it again.")
        records = [
            _record(ctx, request, decision, [s for s, d in decisions.items() if d == decision])
            for decision in (Decision.REFUSE, Decision.GRANT)
            if decision in decisions.values()
        ]
        request.answered_at, request.answer = timezone.now(), dict(decisions)
        request.save(update_fields=["answered_at", "answer"])
        request.records.set(records)
        record_audit(
            ctx, "consent_request.answer", target=request, participant=participant, **decisions
        )
    return request


def _record(
    ctx: AuditContext, request: ConsentRequest, decision: str, scopes: list[str]
) -> ConsentRecord:
    return record_consent(
        ctx,
        request.participant,
        scopes=scopes,
        decision=decision,
        given_by=request.signer,
        guardian=request.guardian,
        evidence_reference=f"online consent request #{request.pk} ({request.email})",
        evidence_date=request.participant.organization.local_today(),
    )


def send_consent_reminders(now: dt.datetime | None = None) -> int:
    """Send a fresh link for every unanswered request last sent CONSENT_REMINDER_INTERVAL_DAYS
    or more ago, at most CONSENT_MAX_REMINDERS times per signer; returns how many were sent."""
    now = now or timezone.now()
    due = (
        ConsentRequest.objects.unanswered()
        .filter(
            sent_at__lte=now - dt.timedelta(days=settings.CONSENT_REMINDER_INTERVAL_DAYS),
            reminders_sent__lt=settings.CONSENT_MAX_REMINDERS,
        )
        .select_related("participant__organization", "guardian")
    )
    sent = 0
    for request in due:
        org = request.participant.organization
        ctx = AuditContext.system(org, "consent reminders")
        email = request.guardian.email if request.guardian else request.email
        reminders = request.reminders_sent + 1
        _send(ctx, request.participant, email or request.email, request.guardian,
              request.sent_by, reminders_sent=reminders)  # fmt: skip
        sent += 1
    return sent


@dataclass(frozen=True)
class SignerStatus:
    """One signer's standing for the class view: who, and what became of their link."""

    who: str
    status: str  # "not asked", "no answer", "expired", "granted", "refused", "answered"
    detail: str


def signer_statuses(participant: Participant, now: dt.datetime) -> list[SignerStatus]:
    """Each guardian's and the student's request status (expects guardians and live
    consent_requests prefetched)."""
    live = list(participant.consent_requests.all())
    rows = []
    for guardian in participant.guardians.all():
        mine = [r for r in live if r.guardian_id == guardian.pk]
        why = "" if guardian.email else "no e-mail address on record"
        rows.append(_status(f"{guardian.name} ({guardian.relation})", mine, now, why))
    students = [r for r in live if r.signer == GivenBy.STUDENT]
    if students:
        rows.append(_status("the student", students, now, ""))
    return rows


def _status(who: str, requests: list[ConsentRequest], now: dt.datetime, why: str) -> SignerStatus:
    if not requests:
        return SignerStatus(who, "not asked", why)
    latest = max(requests, key=lambda r: r.sent_at)
    sent = f"sent {latest.sent_at:%Y-%m-%d}" + (
        f", {latest.reminders_sent} reminder(s)" if latest.reminders_sent else ""
    )
    if latest.answered_at is None:
        status = "expired" if latest.expires_at <= now else "no answer"
        opened = ", opened" if latest.opened_at else ""
        return SignerStatus(who, status, sent + opened)
    answers = set(latest.answer.values())
    status = answers.pop() if len(answers) == 1 else "answered"
    detail = ", ".join(f"{scope}: {d}" for scope, d in sorted(latest.answer.items()))
    return SignerStatus(who, "granted" if status == Decision.GRANT else
                        "refused" if status == Decision.REFUSE else status,
                        f"{detail} ({latest.answered_at:%Y-%m-%d})")  # fmt: skip
