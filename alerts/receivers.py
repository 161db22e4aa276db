"""Signal receivers: seed rules for new organizations; evaluate a class session once it ended;
close alerts when consent is lost; count the alerts a notice publication would close."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from alerts.defaults import seed_default_rules
from alerts.models import Alert
from alerts.tasks import evaluate_session_task
from alerts.workflow import close_alerts_for_withdrawn_consent
from capture.models import ClassSession
from capture.signals import session_ended
from consent.models import Scope
from consent.signals import consent_revoked, publication_effects_counted
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


@receiver(session_ended, dispatch_uid="alerts.evaluate_ended_session")
def evaluate_ended_session(sender: Any, session: ClassSession, **_: Any) -> None:
    """Evaluate the alert rules for the session after the ending commits and the frames still
    in flight are stored (ALERT_SESSION_EVALUATION_DELAY_SECONDS later)."""
    session_id = session.pk
    delay = settings.ALERT_SESSION_EVALUATION_DELAY_SECONDS
    transaction.on_commit(lambda: evaluate_session_task.apply_async((session_id,), countdown=delay))


@receiver(publication_effects_counted, dispatch_uid="alerts.count_alerts_closed")
def count_alerts_closed(sender: Any, participant_ids: list[int], **_: Any) -> dict[str, int]:
    """The active alerts a notice publication would close for ``participant_ids``."""
    return {
        "alerts_closed": Alert.objects.filter(participant_id__in=participant_ids).active().count()
    }
