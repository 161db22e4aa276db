"""Audit events for reads made through the API (changes are audited by the actions themselves)."""

from __future__ import annotations

from collections.abc import Sequence

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import AuditEvent, Participant


def record_participant_view(
    ctx: AuditContext, participant: Participant, *, section: str = "profile"
) -> AuditEvent:
    """Append a ``participant.view`` event: who saw which part (``section``) of whose data."""
    return record_audit(
        ctx, "participant.view", target=participant, participant=participant, section=section
    )


def record_participant_list(
    ctx: AuditContext, participants: Sequence[Participant], *, search: str = ""
) -> AuditEvent | None:
    """Append one ``participant.list`` event naming the pseudonyms shown; None for an empty page.

    One event per page (not per row) keeps the trail readable while still saying who saw whom.
    """
    if not participants:
        return None
    return record_audit(
        ctx,
        "participant.list",
        pseudonyms=[p.pseudonym for p in participants],
        search=search,
    )
