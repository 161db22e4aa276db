"""What happens to a person's stored numbers when their emotion-analysis consent ends.

Called (through consent.signals.consent_revoked) inside the withdrawing transaction, so the
withdrawal and the deletion commit together or not at all.
"""

from __future__ import annotations

from django.db.models import F

from capture.models import (
    SUM_FIELDS,
    DailyRollup,
    MinuteAggregate,
    Observation,
    PresenceTally,
    SessionTotal,
)
from privacy.models import DeidentifiedDailyTotal
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Participant

POOLED_FIELDS = (*SUM_FIELDS, "n", "engaged_n", "engagement_known_n", "quality_sum")


def apply_withdrawal_policy(ctx: AuditContext, participant: Participant) -> dict[str, int]:
    """Delete (or, by school policy, de-identify) the participant's series; returns counts.

    Only day totals are pooled under the ``deidentify`` policy; minute and session totals are
    deleted either way (their sums are already in the day totals), and so are the "present,
    not assessable" tallies (they hold no expression to pool)."""
    of_person = {"participant": participant}
    counts = {
        "observations": Observation.objects.filter(**of_person).delete()[0],
        "minute_aggregates": MinuteAggregate.objects.filter(**of_person).delete()[0],
        "session_totals": SessionTotal.objects.filter(**of_person).delete()[0],
        "presence_tallies": PresenceTally.objects.filter(**of_person).delete()[0],
    }
    rollups = DailyRollup.objects.filter(participant=participant)
    if participant.organization.withdrawal_policy == "deidentify":
        counts["daily_rollups_deidentified"] = _pool_rollups(participant, list(rollups))
    counts["daily_rollups"] = rollups.delete()[0]
    record_audit(
        ctx,
        "data.withdrawal_policy",
        participant=participant,
        policy=participant.organization.withdrawal_policy,
        **counts,
    )
    return counts


def _pool_rollups(participant: Participant, rollups: list[DailyRollup]) -> int:
    for rollup in rollups:
        total, _ = DeidentifiedDailyTotal.objects.get_or_create(
            organization_id=participant.organization_id, grade=participant.grade, day=rollup.day
        )
        DeidentifiedDailyTotal.objects.filter(pk=total.pk).update(
            participants=F("participants") + 1,  # one rollup per person and day
            **{name: F(name) + getattr(rollup, name) for name in POOLED_FIELDS},
        )
    return len(rollups)
