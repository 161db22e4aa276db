"""Celery tasks of consent (routed to the ``maintenance`` queue by settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from consent.online_consent import send_consent_reminders
from consent.portal import send_portal_links
from consent.retention import purge_expired_templates


@shared_task
def purge_expired_templates_task() -> int:
    """Nightly: destroy templates of participants not seen within their school's period."""
    return purge_expired_templates()


@shared_task
def send_consent_reminders_task() -> int:
    """Daily: a fresh link to each signer whose consent request is still unanswered."""
    return send_consent_reminders()


MAX_PORTAL_LINK_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_PORTAL_LINK_RETRIES, ignore_result=True)
def send_portal_link_task(
    self: Task[Any, Any],
    email: str,
    ip: str | None,
    agent: str = "",
    organization_ids: list[int] | None = None,
) -> None:
    """The family portal's sign-in links for ``email`` (consent.portal.send_portal_links),
    queued by the sign-in page for known and unknown addresses alike.

    The message carries the address, network address and browser (for the audit), never a
    token: each link's token is made here. No result is stored (it would tell whether the
    address is on record). Schools whose e-mail failed are retried alone, after 30, 60 and
    120 s; a link expires in PORTAL_LINK_EXPIRY_MINUTES anyway, and the holder can ask again.
    Run in-process (no broker: the demo, the tests) a failure is only logged, as a retry there
    would reach the sign-in page as an error for known addresses only."""
    outcome = send_portal_links(email, ip, agent, organization_ids)
    if (
        outcome.failed
        and not self.request.is_eager
        and self.request.retries < MAX_PORTAL_LINK_RETRIES
    ):
        raise self.retry(
            args=(email, ip, agent, outcome.failed), countdown=30 * 2**self.request.retries
        )
