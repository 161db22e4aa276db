"""The consent precedence rules, in one place.

Processing of a participant for a scope is allowed only when, for the organization's current
notice version, a guardian or the student has granted that scope and nobody has objected:

1. A new notice version requires fresh consent: grants under older versions do not count.
2. A refusal by the student themself, or an objection by any guardian, overrides every grant
   (UK Protection of Freedoms Act 2012 model). An objection stands, whatever notice version it
   was recorded under, until it is itself withdrawn.
3. Withdrawal takes effect immediately: a withdrawn record counts for nothing.
4. A student's own grant suffices only under the school's age-aware rules (consent.age_rules):
   from the school's consent age, and for the face template of a minor only where the rules do
   not require a guardian's grant. An unknown age counts as below every age. A guardian's grant
   counts at every age. Rule 2 is not editable: a refusal wins at any age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from consent.age_rules import AgeRules, StudentAge, own_grant_refusal, rules_of, student_age
from consent.models import ConsentNotice, ConsentRecord, Decision, GivenBy
from wellbeing.models import Organization, Participant


@dataclass(frozen=True)
class ConsentState:
    """The outcome for one participant: which scopes are active and why others are not."""

    active_scopes: frozenset[str]
    reasons: dict[str, str]

    def allows(self, *scopes: str) -> bool:
        return all(scope in self.active_scopes for scope in scopes)


@dataclass(frozen=True)
class ConsentSubject:
    """Who the records are about, as far as the rules care: their age and their school's rules."""

    age: StudentAge
    rules: AgeRules


def subject_of(participant: Participant, today: dt.date | None = None) -> ConsentSubject:
    """The participant as a subject of their school's rules, on ``today`` (the school's local
    date by default). Reads ``participant.organization`` (one query unless already loaded)."""
    organization = participant.organization
    day = today or organization.local_today()
    return ConsentSubject(student_age(participant, day), rules_of(organization))


def decide_consent(
    records: Iterable[ConsentRecord],
    current_notice: ConsentNotice | None,
    scopes: Iterable[str],
    subject: ConsentSubject,
) -> ConsentState:
    """Apply the precedence rules to already-loaded records (no queries of its own)."""
    in_force = [r for r in records if r.withdrawn_at is None]
    active: set[str] = set()
    reasons: dict[str, str] = {}
    for scope in scopes:
        objections = [r for r in in_force if r.decision == Decision.REFUSE and scope in r.scopes]
        grants = [
            r
            for r in in_force
            if r.decision == Decision.GRANT
            and scope in r.scopes
            and current_notice is not None
            and r.notice_id == current_notice.pk
        ]
        if objections:
            who = objections[0].get_given_by_display().lower()
            reasons[scope] = f"objection on record ({who})"
        elif current_notice is None:
            reasons[scope] = "no consent notice published"
        elif not grants:
            reasons[scope] = f"no consent for notice version {current_notice.version}"
        elif any(r.given_by == GivenBy.GUARDIAN for r in grants):
            active.add(scope)
        else:  # only the student's own grant: the school's age rules decide whether it suffices
            refusal = own_grant_refusal(subject.rules, subject.age, scope)
            if refusal is None:
                active.add(scope)
            else:
                reasons[scope] = refusal
    return ConsentState(frozenset(active), reasons)


def consent_state(participant: Participant, scopes: Iterable[str]) -> ConsentState:
    """Load the participant's records and decide (two queries, three if the organization is not
    loaded)."""
    notice = ConsentNotice.objects.current_for(participant.organization)
    records = list(participant.consent_records.in_force())
    return decide_consent(records, notice, scopes, subject_of(participant))


@dataclass(frozen=True)
class SchoolContext:
    """What deciding a school's participants needs once per school: notice, rules, today."""

    notice: ConsentNotice | None
    rules: AgeRules
    today: dt.date

    @classmethod
    def load(cls, organization: Organization) -> SchoolContext:
        """One query (the current notice)."""
        notice = ConsentNotice.objects.current_for(organization)
        return cls(notice, rules_of(organization), organization.local_today())

    def subject(self, participant: Participant) -> ConsentSubject:
        return ConsentSubject(student_age(participant, self.today), self.rules)

    def decide(
        self, participant: Participant, records: Iterable[ConsentRecord], scopes: Iterable[str]
    ) -> ConsentState:
        return decide_consent(records, self.notice, scopes, self.subject(participant))


def participants_with_consent(
    participants: Iterable[Participant], scopes: Iterable[str]
) -> list[Participant]:
    """The subset allowed for every scope. Expects consent_records prefetched for speed."""
    scope_list = list(scopes)
    schools: dict[int, SchoolContext] = {}
    allowed = []
    for participant in participants:
        org_id = participant.organization_id
        if org_id not in schools:  # one or two queries per school, never per participant
            schools[org_id] = SchoolContext.load(participant.organization)
        state = schools[org_id].decide(participant, participant.consent_records.all(), scope_list)
        if state.allows(*scope_list):
            allowed.append(participant)
    return allowed
