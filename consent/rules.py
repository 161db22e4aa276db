"""The consent precedence rules, in one place.

Processing of a participant for a scope is allowed only when, for the organization's current
notice version, a guardian or the student has granted that scope and nobody has objected:

1. A new notice version requires fresh consent: grants under older versions do not count.
2. A refusal by the student themself, or an objection by any guardian, overrides every grant
   (UK Protection of Freedoms Act 2012 model). An objection stands, whatever notice version it
   was recorded under, until it is itself withdrawn.
3. Withdrawal takes effect immediately: a withdrawn record counts for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consent.models import ConsentNotice, ConsentRecord, Decision
from wellbeing.models import Participant


@dataclass(frozen=True)
class ConsentState:
    """The outcome for one participant: which scopes are active and why others are not."""

    active_scopes: frozenset[str]
    reasons: dict[str, str]

    def allows(self, *scopes: str) -> bool:
        return all(scope in self.active_scopes for scope in scopes)


def decide_consent(
    records: Iterable[ConsentRecord], current_notice: ConsentNotice | None, scopes: Iterable[str]
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
        else:
            active.add(scope)
    return ConsentState(frozenset(active), reasons)


def consent_state(participant: Participant, scopes: Iterable[str]) -> ConsentState:
    """Load the participant's records and decide (two queries)."""
    notice = ConsentNotice.objects.current_for(participant.organization)
    records = list(participant.consent_records.in_force())
    return decide_consent(records, notice, scopes)


def participants_with_consent(
    participants: Iterable[Participant], scopes: Iterable[str]
) -> list[Participant]:
    """The subset allowed for every scope. Expects consent_records prefetched for speed."""
    scope_list = list(scopes)
    notices: dict[int, ConsentNotice | None] = {}
    allowed = []
    for participant in participants:
        org_id = participant.organization_id
        if org_id not in notices:
            notices[org_id] = ConsentNotice.objects.current_for(participant.organization)
        state = decide_consent(participant.consent_records.all(), notices[org_id], scope_list)
        if state.allows(*scope_list):
            allowed.append(participant)
    return allowed
