from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from consent.models import Scope
from consent.signals import consent_revoked
from privacy.withdrawal import apply_withdrawal_policy
from wellbeing.actions import AuditContext
from wellbeing.models import Participant


@receiver(consent_revoked)
def on_consent_revoked(
    sender: Any, participant: Participant, scopes: frozenset[str], **kwargs: Any
) -> None:
    if Scope.EMOTION_ANALYSIS in scopes:
        ctx = kwargs.get("ctx") or AuditContext.system(participant.organization, "withdrawal")
        apply_withdrawal_policy(ctx, participant)
