"""Escalation of unacknowledged urgent alerts and the daily digest.

Escalation: an urgent alert still *open* (not acknowledged, not closed, signal not recovered)
``escalation_minutes`` after it was raised is sent to the organization's first alert contact,
after twice that time to the second, and so on. Acknowledging stops it: the check runs under a
row lock, and a queued escalation e-mail is cancelled at send time if the alert is no longer
open. Reopening restarts the ladder: the clock counts from the latest reopening (not from
``raised_at``, which would escalate an old reopened alert at once) and starts at the first
contact again (workflow.reopen_alert resets the level and cancels e-mails still queued).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertState, DeliveryStatus, EmailDelivery, Severity
from alerts.notifications import not_before_for, policy_of, queue_deliveries
from wellbeing.models import Organization, Role, StaffMember

DIGEST_LOCAL_HOUR = 7


def escalation_minutes(org: Organization) -> int:
    configured = policy_of(org).escalation_minutes
    return configured or int(getattr(settings, "ALERT_ESCALATION_MINUTES", 120))


def escalate_unacknowledged(now: dt.datetime | None = None) -> list[int]:
    """Escalate every due alert by one contact; returns the ids of the deliveries made."""
    now = now or timezone.now()
    candidates = (
        Alert.objects.filter(
            severity=Severity.URGENT, state=AlertState.OPEN, cleared_at=None, raised_at__lt=now
        )
        .annotate(reopened_at=Max("events__created_at", filter=Q(events__kind="reopened")))
        .select_related("organization")
    )
    made: list[int] = []
    for alert in candidates:
        contacts = [c for c in alert.organization.alert_contacts if isinstance(c, str) and c]
        since = max(alert.raised_at, alert.reopened_at or alert.raised_at)
        due = since + dt.timedelta(
            minutes=escalation_minutes(alert.organization) * (alert.escalation_level + 1)
        )
        if alert.escalation_level < len(contacts) and now >= due:
            made.extend(escalate_one(alert.pk, now))
    return made


def escalate_one(alert_id: int, now: dt.datetime) -> list[int]:
    """One escalation step under a row lock (re-checks that the alert is still open)."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("organization").get(pk=alert_id)
        contacts = [c for c in alert.organization.alert_contacts if isinstance(c, str) and c]
        level = alert.escalation_level
        if alert.state != AlertState.OPEN or level >= len(contacts):
            return []
        event = AlertEvent.objects.create(
            alert=alert, kind="escalated", detail={"contact_index": level}, created_at=now
        )
        delivery = EmailDelivery.objects.create(
            organization=alert.organization,
            idempotency_key=escalation_key(alert, level),
            kind="escalation",
            alert=alert,
            event=event,
            to_address=contacts[level],
            not_before=not_before_for(alert.organization, alert.severity, now),
            created_at=now,
        )
        alert.escalation_level = level + 1
        alert.save(update_fields=["escalation_level"])
        transaction.on_commit(lambda: queue_deliveries([delivery.pk]))
    return [delivery.pk]


def escalation_key(alert: Alert, level: int) -> str:
    """Idempotency key of one escalation step; each reopening starts a ladder of its own."""
    reopened = alert.events.filter(kind="reopened").order_by("-created_at", "-pk").first()
    if reopened is None:
        return f"escalation:{alert.pk}:level:{level}"
    return f"escalation:{alert.pk}:reopen:{reopened.pk}:level:{level}"


def send_daily_digests(now: dt.datetime | None = None) -> list[int]:
    """Plan one digest per staff member who chose the digest, once per local day.

    Runs hourly; an organization's digests go out in its local DIGEST_LOCAL_HOUR. Staff with
    nothing new in the last 24 hours get none.
    """
    now = now or timezone.now()
    made: list[int] = []
    # Deactivated staff get no digest (they can no longer open what it links to).
    staff_rows = (
        StaffMember.objects.active()
        .filter(email_preference="digest", role__in=[Role.COUNSELOR, Role.ADMIN])
        .select_related("organization", "user")
    )
    for staff in staff_rows:
        local = now.astimezone(staff.organization.tzinfo)
        if local.hour != DIGEST_LOCAL_HOUR or not staff.user.email:
            continue
        since = now - dt.timedelta(hours=24)
        if not Alert.objects.visible_to_staff(staff).filter(raised_at__gte=since).exists():
            continue
        delivery, created = EmailDelivery.objects.get_or_create(
            idempotency_key=f"digest:{staff.pk}:{local.date().isoformat()}",
            defaults={
                "organization": staff.organization,
                "kind": "digest",
                "recipient": staff,
                "to_address": staff.user.email,
                # A digest is not urgent: quiet hours reaching past the digest hour hold it.
                "not_before": not_before_for(staff.organization, Severity.NOTIFY, now),
                "created_at": now,
            },
        )
        if created:
            made.append(delivery.pk)
    transaction.on_commit(lambda: queue_deliveries(made))
    return made


def pending_escalations(alert: Alert) -> int:
    return EmailDelivery.objects.filter(
        alert=alert, kind="escalation", status=DeliveryStatus.PENDING
    ).count()
