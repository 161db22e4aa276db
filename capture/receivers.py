"""Signal receivers of the capture app (connected in CaptureConfig.ready)."""

from __future__ import annotations

import sys

from consent.signals import consent_revoked
from wellbeing.models import Participant


def drop_cached_templates(sender: object, participant: Participant, **kwargs: object) -> None:
    """Free this process's decrypted copies of a participant's templates at once.

    Belt and braces: the per-frame consent check (capture.gallery) already stops attribution at
    the next frame in every worker; this only frees memory in the process that withdrew.
    """
    gallery = sys.modules.get("capture.gallery")  # not imported: nothing cached here
    if gallery is not None:
        gallery.forget_participant_templates(participant.pk)


def connect_receivers() -> None:
    consent_revoked.connect(drop_cached_templates, dispatch_uid="capture.drop_cached_templates")
