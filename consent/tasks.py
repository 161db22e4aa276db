from __future__ import annotations

from celery import shared_task

from consent.retention import purge_expired_templates


@shared_task
def purge_expired_templates_task() -> int:
    """Nightly: destroy templates of participants not seen within their school's period."""
    return purge_expired_templates()
