from __future__ import annotations

from celery import shared_task

from privacy.retention import purge_expired_data


@shared_task
def purge_expired_data_task() -> dict[str, int]:
    """Nightly (beat): purge every kind of data past its school's retention period."""
    return purge_expired_data()
