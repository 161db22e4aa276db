"""The family portal: guardians and students old enough to decide sign in by an e-mailed link,
read the notice, see and change their consent, and (through privacy.portal_views) download
their data or ask for erasure.

Sign-in: someone gives an address at ``/portal/``; the request only counts the ask
(``check_portal_link_rate``: per address and per network address, ``PORTAL_LINK_RATE_PER_EMAIL``,
``PORTAL_LINK_RATE_PER_IP`` an hour) and queues consent.tasks.send_portal_link_task, whatever
the address. The worker (``send_portal_links``) e-mails one link for each school where it is a
guardian's address, or the address of a student whose own grant counts at their age. So the
page and the time it takes are the same whether or not the address is known, and the token
never travels through the broker. A link's token is stored only as its SHA-256; it signs in
once, before ``PORTAL_LINK_EXPIRY_MINUTES``.

The portal session is not a Django sign-in: the (server-side, signed-cookie) session holds the
school and address under ``PORTAL_SESSION_KEY`` for ``PORTAL_SESSION_MINUTES``. Who the holder
may see is worked out again on every request (``portal_people``): a guardian sees each child
whose guardian record has the address, a student only themself and only while the school's rules
let them decide; a changed address or age takes effect at once. Nothing of another school is
reachable: a session belongs to one school.

Changes go through ``consent.actions`` (``record_consent``, ``withdraw_consent``), so the consent
rules are those of a paper form: a refusal by the student or any guardian wins, a student's
own grant counts only under the school's age rules, and a withdrawal takes effect at once.
Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from consent.actions import ConsentError, record_consent, withdraw_consent
from consent.models import (
    ALL_SCOPES,
    ConsentNotice,
    ConsentRecord,
    Decision,
    GivenBy,
    PortalLink,
)
from consent.online_consent import hash_token, new_token, student_may_decide
from consent.rate_limits import over_limit
from consent.rules import ConsentState, SchoolContext
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Guardian, Organization, Participant
from wellbeing.refusals import NotYours

logger = logging.getLogger(__name__)

PORTAL_SESSION_KEY = "family_portal"
RATE_WINDOW_SECONDS = 3600


class PortalRateLimited(ConsentError):
    """Too many sign-in links were asked for from this address or network address."""


class PortalLinkUnusable(ConsentError):
    """The sign-in link is unknown, used or expired; ``reason`` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class PortalLinksSent:
    """What one ``send_portal_links`` did: links e-mailed, and the schools whose e-mail failed."""

    sent: int = 0
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PortalIdentity:
    """Who holds a portal session: an address at one school, until ``expires_at``."""

    organization_id: int
    email: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class PortalPerson:
    """A student the session holder may see, and as whom: their guardian, or themself."""

    participant: Participant
    guardian: Guardian | None

    @property
    def signer(self) -> str:
        return GivenBy.GUARDIAN if self.guardian is not None else GivenBy.STUDENT

    @property
    def holder_label(self) -> str:
        if self.guardian is not None:
            return f"guardian {self.guardian.name} (family portal)"
        return "student (family portal)"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]  # no addresses in the cache


def rate_keys(email: str, ip: str | None) -> tuple[str, str]:
    """The cache keys counting sign-in link requests of an address and of a network address."""
    address = normalize_email(email)
    return f"portal-link-ip:{ip or ''}", f"portal-link-email:{_email_key(address)}"


def check_portal_link_rate(email: str, ip: str | None) -> None:
    """Count one more ask for a sign-in link by ``email`` and by ``ip``; PortalRateLimited
    beyond the per-address or per-network-address limit. Unknown addresses are counted the
    same way, so the limit reveals nothing."""
    ip_key, email_key = rate_keys(email, ip)
    by_ip = over_limit(ip_key, settings.PORTAL_LINK_RATE_PER_IP, RATE_WINDOW_SECONDS)
    by_email = over_limit(email_key, settings.PORTAL_LINK_RATE_PER_EMAIL, RATE_WINDOW_SECONDS)
    if by_ip or by_email:
        raise PortalRateLimited("Too many sign-in links were asked for; try again in an hour.")


def send_portal_links(
    email: str, ip: str | None, agent: str = "", organization_ids: Collection[int] | None = None
) -> PortalLinksSent:
    """E-mail one sign-in link for each school where ``email`` may use the portal (only those of
    ``organization_ids`` when given: a retry of the schools whose e-mail failed).

    Runs in a worker (consent.tasks.send_portal_link_task), never in the web request, so how
    long the request takes says nothing about whether the address is on record; the token is
    made here and exists only in this process and the e-mail. Each school's link is created,
    audited and e-mailed in one transaction: a link exists only when its e-mail went out, and a
    school whose mail server failed is listed in ``failed`` (nothing of it stored)."""
    address = normalize_email(email)
    result = PortalLinksSent()
    if not address:
        return result
    for organization in _schools_of(address):
        if organization_ids is not None and organization.pk not in organization_ids:
            continue
        ctx = AuditContext(organization=organization, actor_label="family portal sign-in",
                           ip_address=ip, user_agent=agent[:300])  # fmt: skip
        try:
            _send_link(ctx, organization, address)
        except (smtplib.SMTPException, OSError):
            logger.warning("Portal sign-in link of school %s not sent", organization.pk,
                           exc_info=True)  # fmt: skip
            result.failed.append(organization.pk)
        else:
            result.sent += 1
    return result


def _schools_of(address: str) -> list[Organization]:
    """The schools where ``address`` may use the portal today."""
    org_ids = set(
        Guardian.objects.filter(email__iexact=address).values_list(
            "participant__organization_id", flat=True
        )
    )
    for student in Participant.objects.filter(email__iexact=address).select_related("organization"):
        if student.organization_id not in org_ids and student_may_decide(
            SchoolContext.load(student.organization), student
        ):
            org_ids.add(student.organization_id)
    return list(Organization.objects.filter(pk__in=org_ids).order_by("pk"))


def _send_link(ctx: AuditContext, organization: Organization, address: str) -> PortalLink:
    token, digest = new_token()
    now = timezone.now()
    with transaction.atomic():
        # Links of this address that can no longer be used are of no further use to anyone.
        PortalLink.objects.filter(organization=organization, email=address).filter(
            expires_at__lt=now
        ).delete()
        link = PortalLink.objects.create(
            organization=organization,
            email=address,
            token_hash=digest,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=settings.PORTAL_LINK_EXPIRY_MINUTES),
        )
        record_audit(ctx, "portal.link_send", target=link)
        _mail(link, token)  # inside: a failed e-mail leaves no link behind
    return link


def portal_link_url(token: str) -> str:
    return settings.SITE_URL + reverse("portal:link", args=[token])


def _mail(link: PortalLink, token: str) -> None:
    context = {"org": link.organization, "url": portal_link_url(token), "link": link}
    body = render_to_string("consent/portal/link_email.txt", context)
    send_mail(f"{link.organization.name}: your sign-in link", body, None, [link.email])


def portal_link_for_token(token: str, now: dt.datetime | None = None) -> PortalLink:
    """The usable link of ``token``, or PortalLinkUnusable saying why not."""
    link = (
        PortalLink.objects.select_related("organization")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        raise PortalLinkUnusable("unknown", "This sign-in link is not valid.")
    if link.used_at is not None:
        raise PortalLinkUnusable("used", "This sign-in link was already used.")
    if link.expires_at <= (now or timezone.now()):
        raise PortalLinkUnusable("expired", "This sign-in link has expired.")
    return link


def sign_in_with_portal_link(token: str, ip: str | None, agent: str = "") -> PortalIdentity:
    """Use the link once: mark it used and return the session's identity (audited).

    Refuses a used, expired or unknown link, and an address that may see nobody any more."""
    with transaction.atomic():
        link = portal_link_for_token(token)
        link = PortalLink.objects.select_for_update().select_related("organization").get(pk=link.pk)
        if link.used_at is not None:
            raise PortalLinkUnusable("used", "This sign-in link was already used.")
        ctx = AuditContext(organization=link.organization, actor_label="family portal sign-in",
                           ip_address=ip, user_agent=agent[:300])  # fmt: skip
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        if not portal_people(link.organization, link.email):
            record_audit(ctx, "portal.sign_in_refused", target=link, reason="nobody to show")
            raise PortalLinkUnusable("nobody", "This address is no longer on record here.")
        record_audit(ctx, "portal.sign_in", target=link)
    expires = link.used_at + dt.timedelta(minutes=settings.PORTAL_SESSION_MINUTES)
    return PortalIdentity(link.organization_id, link.email, expires)


def start_portal_session(session: Any, identity: PortalIdentity) -> None:
    """Store the identity in the request's session under a fresh session key (no fixation)."""
    session.cycle_key()
    session[PORTAL_SESSION_KEY] = {
        "org": identity.organization_id,
        "email": identity.email,
        "until": identity.expires_at.isoformat(),
    }


def portal_identity_of(session: Any, now: dt.datetime | None = None) -> PortalIdentity | None:
    """The live portal identity of a session, or None (never signed in, or expired: an expired
    one is removed)."""
    data = session.get(PORTAL_SESSION_KEY)
    if not isinstance(data, Mapping):
        return None
    try:
        identity = PortalIdentity(
            int(data["org"]), str(data["email"]), dt.datetime.fromisoformat(data["until"])
        )
    except (KeyError, TypeError, ValueError):
        session.pop(PORTAL_SESSION_KEY, None)
        return None
    if identity.expires_at <= (now or timezone.now()):
        session.pop(PORTAL_SESSION_KEY, None)
        return None
    return identity


def end_portal_session(session: Any, identity: PortalIdentity | None, ip: str | None) -> None:
    """Sign out: drop the portal identity and change the session key (audited when signed in)."""
    session.pop(PORTAL_SESSION_KEY, None)
    session.cycle_key()
    if identity is not None:
        org = Organization.objects.get(pk=identity.organization_id)
        record_audit(AuditContext(org, actor_label="family portal", ip_address=ip),
                     "portal.sign_out")  # fmt: skip


def portal_people(organization: Organization, email: str) -> list[PortalPerson]:
    """Whom ``email`` may see at ``organization`` now: each child whose guardian record has the
    address (as that guardian), and the student with the address while their school's rules let
    them decide (as themself)."""
    people = [
        PortalPerson(guardian.participant, guardian)
        for guardian in Guardian.objects.filter(
            email__iexact=email, participant__organization=organization
        )
        .select_related("participant__organization")
        .order_by("participant__full_name", "pk")
    ]
    seen = {person.participant.pk for person in people}
    school = SchoolContext.load(organization)
    for student in Participant.objects.filter(organization=organization, email__iexact=email):
        if student.pk not in seen and student_may_decide(school, student):
            people.append(PortalPerson(student, None))
    return people


def portal_organization(identity: PortalIdentity) -> Organization:
    return Organization.objects.get(pk=identity.organization_id)


def portal_person(identity: PortalIdentity, participant_pk: int) -> PortalPerson:
    """The student ``participant_pk`` as the session holder may see them, or NotYours."""
    for person in portal_people(portal_organization(identity), identity.email):
        if person.participant.pk == participant_pk:
            return person
    raise NotYours("That student is not yours to see.")


def portal_context(person: PortalPerson, ip: str | None, agent: str = "") -> AuditContext:
    """The audit context of the session holder acting about ``person``."""
    return AuditContext(
        organization=person.participant.organization,
        actor_label=person.holder_label[:150],
        ip_address=ip,
        user_agent=agent[:300],
    )


@dataclass(frozen=True)
class ConsentOverview:
    """What the portal shows of one student: the notice, the state, and the full history."""

    notice: ConsentNotice | None
    state: ConsentState
    records: list[ConsentRecord]
    own_decisions: dict[str, str]  # scope -> the holder's own decision in force, if any


def consent_overview(ctx: AuditContext, person: PortalPerson) -> ConsentOverview:
    """The student's consent state and history for the portal (the view is audited)."""
    participant = person.participant
    school = SchoolContext.load(participant.organization)
    records = list(
        participant.consent_records.select_related("notice", "guardian").order_by("-recorded_at")
    )
    state = school.decide(participant, records, ALL_SCOPES)
    own = {}
    for record in reversed(records):  # oldest first: the newest decision per scope wins
        if _is_own(record, person) and _counts(record, school.notice):
            own.update({scope: record.decision for scope in record.scopes})
    record_audit(ctx, "portal.view", target=participant, participant=participant)
    return ConsentOverview(school.notice, state, records, own)


def _is_own(record: ConsentRecord, person: PortalPerson) -> bool:
    if person.guardian is not None:
        return record.given_by == GivenBy.GUARDIAN and record.guardian_id == person.guardian.pk
    return record.given_by == GivenBy.STUDENT


def _counts(record: ConsentRecord, notice: ConsentNotice | None) -> bool:
    """In force, and still deciding something: a refusal under any notice, a grant only under
    the current one (consent.rules)."""
    if record.withdrawn_at is not None:
        return False
    return record.decision == Decision.REFUSE or (
        notice is not None and record.notice_id == notice.pk
    )


def change_portal_consent(
    ctx: AuditContext, person: PortalPerson, scope: str, decision: str
) -> list[ConsentRecord]:
    """Give (``grant``) or withdraw (``refuse``) the holder's consent for one scope.

    The new decision is recorded first (a refusal takes effect in that same step, through
    record_consent); then the holder's own earlier decisions about the scope that it replaces
    are withdrawn, after their other scopes are recorded again unchanged (so withdrawing one
    scope never ends another, not even for an instant). Returns the records written. Nothing
    changes when the holder's decision in force is already ``decision``."""
    if scope not in ALL_SCOPES or decision not in Decision.values:
        raise ConsentError("Choose a kind of processing and to give or withdraw consent.")
    participant = person.participant
    with transaction.atomic():
        notice = ConsentNotice.objects.current_for(participant.organization)
        mine = [
            r
            for r in participant.consent_records.in_force().select_related("notice")
            if _is_own(r, person) and scope in r.scopes and _counts(r, notice)
        ]
        if any(r.decision == decision for r in mine) and all(r.decision == decision for r in mine):
            return []
        replaced = [r for r in mine if r.decision != decision]
        written = [_record(ctx, person, [scope], decision)]
        for old in replaced:
            others = [s for s in old.scopes if s != scope]
            if others:
                written.append(_record(ctx, person, others, old.decision))
        for old in replaced:
            withdraw_consent(ctx, old, note=f"changed in the family portal ({scope}: {decision})")
        record_audit(ctx, "portal.consent_change", target=participant, participant=participant,
                     scope=scope, decision=decision)  # fmt: skip
    return written


def _record(
    ctx: AuditContext, person: PortalPerson, scopes: list[str], decision: str
) -> ConsentRecord:
    participant = person.participant
    return record_consent(
        ctx,
        participant,
        scopes=scopes,
        decision=decision,
        given_by=person.signer,
        guardian=person.guardian,
        evidence_reference=f"family portal ({ctx.actor_label})"[:200],
        evidence_date=participant.organization.local_today(),
    )
