"""Signal receivers: seed rules for new organizations; close alerts when consent is lost."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from alerts.defaults import seed_default_rules
from alerts.workflow import close_alerts_for_withdrawn_consent
from consent.models import Scope
from consent.signals import consent_revoked
from wellbeing.models import Organization, Participant


@receiver(post_save, sender=Organization, dispatch_uid="alerts.seed_default_rules")
def seed_rules_for_new_organization(
    sender: type[Organization], instance: Organization, created: bool, raw: bool = False, **_: Any
) -> None:
    if created and not raw:
        seed_default_rules(instance)


@receiver(consent_revoked, dispatch_uid="alerts.close_on_withdrawal")
def close_alerts_on_consent_loss(
    sender: Any, participant: Participant, scopes: frozenset[str], **_: Any
) -> None:
    """Alerts rest on emotion analysis: losing that scope closes them and stops all e-mail."""
    if Scope.EMOTION_ANALYSIS in scopes:
        close_alerts_for_withdrawn_consent(participant)
