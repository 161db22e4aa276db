"""Celery tasks (routed to the ``alerts`` queue by settings.CELERY_TASK_ROUTES).

Beat entries (see docs/alerts.md): evaluate_all_organizations_task hourly,
escalate_alerts_task and flush_due_deliveries_task every 5 minutes, send_daily_digests_task
hourly (each organization's digest goes out at its local 07:00).
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from alerts.escalation import escalate_unacknowledged, send_daily_digests
from alerts.evaluation import evaluate_organization
from alerts.notifications import (
    DeliveryFailedError,
    due_delivery_ids,
    mark_failed,
    queue_deliveries,
    send_delivery,
)
from capture.models import ClassSession
from wellbeing.models import Organization

MAX_SEND_RETRIES = 6


def backoff_seconds(retries: int) -> int:
    """30 s, 60 s, 120 s ... capped at 30 minutes."""
    return int(min(30 * 2**retries, 1800))


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_delivery_task(self: Task[Any, Any], delivery_id: int) -> str:
    """Send one e-mail delivery at most once; SMTP failures retry with exponential backoff."""
    try:
        return send_delivery(delivery_id)
    except DeliveryFailedError as exc:
        if self.request.retries >= MAX_SEND_RETRIES:
            mark_failed(delivery_id)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


@shared_task
def flush_due_deliveries_task() -> int:
    """Queue deliveries whose quiet hours are over."""
    ids = due_delivery_ids()
    queue_deliveries(ids)
    return len(ids)


@shared_task
def evaluate_organization_task(organization_id: int) -> dict[str, int]:
    org = Organization.objects.get(pk=organization_id)
    report = evaluate_organization(org)
    return {"raised": len(report.raised), "cleared": len(report.cleared)}


@shared_task
def evaluate_all_organizations_task() -> int:
    """Beat: one evaluation task per organization (each is idempotent)."""
    ids = list(Organization.objects.values_list("pk", flat=True))
    for org_id in ids:
        evaluate_organization_task.delay(org_id)
    return len(ids)


@shared_task
def evaluate_session_task(session_id: int) -> dict[str, int]:
    """After a class session ended (and its DailyRollups are written): judge its participants.

    The pipeline calls ``evaluate_session_task.delay(session.pk)``. Only participants with
    a session total (minute rows) in the session are judged; their classmates are loaded for
    the median.
    """
    session = ClassSession.objects.select_related(
        "classroom__organization", "participant__organization"
    ).get(pk=session_id)
    owner = session.classroom or session.participant
    if owner is None:
        return {"raised": 0, "cleared": 0}
    org = owner.organization
    ids = set(session.session_totals.values_list("participant_id", flat=True))
    if not ids:
        return {"raised": 0, "cleared": 0}
    when = session.ended_at or session.started_at
    as_of = org.local_date(when) if when else None
    report = evaluate_organization(org, as_of=as_of, participant_ids=ids)
    return {"raised": len(report.raised), "cleared": len(report.cleared)}


@shared_task
def escalate_alerts_task() -> int:
    return len(escalate_unacknowledged())


@shared_task
def send_daily_digests_task() -> int:
    return len(send_daily_digests())
