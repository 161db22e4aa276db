"""Signal receivers of the capture app (connected in CaptureConfig.ready)."""

from __future__ import annotations

import sys
from typing import Any

from capture.models import (
    DailyRollup,
    MinuteAggregate,
    Observation,
    PresenceTally,
    SessionTotal,
)
from consent.signals import consent_revoked, publication_effects_counted
from wellbeing.models import Participant


def drop_cached_templates(sender: object, participant: Participant, **kwargs: object) -> None:
    """Free this process's decrypted copies of a participant's templates at once.

    Belt and braces: the per-frame consent check (capture.gallery) already stops attribution at
    the next frame in every worker; this only frees memory in the process that withdrew.
    """
    gallery = sys.modules.get("capture.gallery")  # not imported: nothing cached here
    if gallery is not None:
        gallery.forget_participant_templates(participant.pk)


def count_series_rows(sender: object, participant_ids: list[int], **kwargs: Any) -> dict[str, int]:
    """The stored numbers a notice publication would delete for ``participant_ids``."""
    return {
        "observations": Observation.objects.filter(participant_id__in=participant_ids).count(),
        "minute_aggregates": MinuteAggregate.objects.filter(
            participant_id__in=participant_ids
        ).count(),
        "session_totals": SessionTotal.objects.filter(participant_id__in=participant_ids).count(),
        "daily_rollups": DailyRollup.objects.filter(participant_id__in=participant_ids).count(),
        "presence_tallies": PresenceTally.objects.filter(
            participant_id__in=participant_ids
        ).count(),
    }


def connect_receivers() -> None:
    consent_revoked.connect(drop_cached_templates, dispatch_uid="capture.drop_cached_templates")
    publication_effects_counted.connect(count_series_rows, dispatch_uid="capture.count_series")
