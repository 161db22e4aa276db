from __future__ import annotations

from celery import shared_task

from consent.online_consent import send_consent_reminders
from consent.retention import purge_expired_templates


@shared_task
def purge_expired_templates_task() -> int:
    """Nightly: destroy templates of participants not seen within their school's period."""
    return purge_expired_templates()


@shared_task
def send_consent_reminders_task() -> int:
    """Daily: a fresh link to each signer whose consent request is still unanswered."""
    return send_consent_reminders()
