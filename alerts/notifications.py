"""E-mail deliveries: who is told, when (quiet hours), and sending exactly once.

Every e-mail is an EmailDelivery row with a unique idempotency key (one per alert event and
recipient), created in the same transaction as the event. Sending locks the row, skips it
unless still pending and due, and marks it sent in the same transaction, so a retried or
duplicated task never sends a second copy. Bodies say that there is an alert and link to it;
they never carry emotion data, and carry the student's name only when the organization allows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEvent,
    AlertPolicy,
    AlertState,
    DeliveryStatus,
    EmailDelivery,
    Severity,
)
from wellbeing.models import CaseloadAssignment, Organization, Role, StaffMember

log = logging.getLogger(__name__)
CONSENT_WITHDRAWN = "consent_withdrawn"


class DeliveryFailedError(RuntimeError):
    """The mail server refused or could not be reached; the task retries with backoff."""


def policy_of(org: Organization) -> AlertPolicy:
    policy, _ = AlertPolicy.objects.get_or_create(organization=org)
    return policy


def quiet_hours_end(policy: AlertPolicy, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """When the quiet period containing ``now`` ends (aware UTC), or None outside quiet hours.

    Quiet hours are local times of the organization (``tz``, its ``Organization.tzinfo``); a
    period may wrap past midnight.
    """
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(tz)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    ends = dt.datetime.combine(end_day, end, tzinfo=local.tzinfo)
    return ends.astimezone(dt.UTC)


def not_before_for(org: Organization, severity: str, now: dt.datetime) -> dt.datetime:
    policy = policy_of(org)
    if severity == Severity.URGENT and policy.urgent_ignores_quiet_hours:
        return now
    return quiet_hours_end(policy, org.tzinfo, now) or now


def caseload_counselors(participant_ids: Sequence[int]) -> dict[int, list[StaffMember]]:
    """participant id -> counselors with the participant on their caseload (one query)."""
    # Active only: a deactivation hands the caseload over, but an account switched off in the
    # operator's Django admin keeps it and must not be e-mailed about students.
    rows = CaseloadAssignment.objects.filter(
        participant_id__in=list(participant_ids),
        counselor__role=Role.COUNSELOR,
        counselor__user__is_active=True,
    ).select_related("counselor__user")
    found: dict[int, list[StaffMember]] = {}
    for row in rows:
        found.setdefault(row.participant_id, []).append(row.counselor)
    return found


def plan_raise_deliveries(
    org: Organization, raised: list[tuple[Alert, AlertEvent]], now: dt.datetime
) -> list[int]:
    """Create immediate e-mails for new alerts; returns delivery ids to queue after commit.

    Watch alerts are e-mailed to nobody (inbox and digest only). Counselors who chose the
    digest or the dashboard get no immediate e-mail.
    """
    counselors = caseload_counselors([a.participant_id for a, _ in raised])
    rows = []
    for alert, event in raised:
        if alert.severity == Severity.WATCH:
            continue
        not_before = not_before_for(org, alert.severity, now)
        for staff in counselors.get(alert.participant_id, []):
            if staff.email_preference != "immediate" or not staff.user.email:
                continue
            rows.append(
                EmailDelivery(
                    organization=org,
                    idempotency_key=f"event:{event.pk}:staff:{staff.pk}",
                    kind="alert",
                    alert=alert,
                    event=event,
                    recipient=staff,
                    to_address=staff.user.email,
                    not_before=not_before,
                )
            )
    # Keys embed the new event's id, so they cannot collide; a collision would be a bug.
    return [d.pk for d in EmailDelivery.objects.bulk_create(rows)]


def queue_deliveries(delivery_ids: Sequence[int]) -> None:
    """Hand deliveries to the alerts queue (called after commit)."""
    from alerts.tasks import send_delivery_task

    for delivery_id in delivery_ids:
        send_delivery_task.delay(delivery_id)


def alert_link(alert_id: int | None) -> str:
    if alert_id is None:
        return settings.SITE_URL + reverse("alerts:inbox")
    return settings.SITE_URL + reverse("alerts:detail", args=[alert_id])


def build_message(delivery: EmailDelivery) -> EmailMultiAlternatives:
    """The e-mail of a delivery: HTML and plain text, no emotion data, a link to the alert."""
    org = delivery.organization
    alert = delivery.alert
    context: dict[str, Any] = {
        "organization": org.name,
        "kind": delivery.kind,
        "severity": alert.get_severity_display() if alert else "",
        "student_name": alert.participant.full_name
        if alert and org.email_includes_student_name
        else "",
        "link": alert_link(alert.pk if alert else None),
        "digest": digest_counts(delivery) if delivery.kind == "digest" else {},
    }
    template = "digest" if delivery.kind == "digest" else "alert"
    subject = {
        "alert": f"[{org.name}] New {context['severity'].lower()} alert to review",
        "escalation": f"[{org.name}] Escalated: an urgent alert is not yet acknowledged",
        "digest": f"[{org.name}] Daily alert digest",
    }[delivery.kind]
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"alerts/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.to_address],
        headers={
            # Lets receiving servers drop a copy should one ever be sent twice.
            "Message-ID": f"<{hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:40]}"
            "@wellbeing.alerts>",
            "X-Wellbeing-Delivery": delivery.idempotency_key,
        },
    )
    html = render_to_string(f"alerts/email/{template}.html", context)
    message.attach_alternative(html, "text/html")
    return message


def digest_counts(delivery: EmailDelivery) -> dict[str, int]:
    """Counts only: new alerts by severity in the 24 h before the digest, and active ones."""
    if delivery.recipient is None:
        return {}
    visible = Alert.objects.visible_to_staff(delivery.recipient)
    since = delivery.created_at - dt.timedelta(hours=24)
    new = visible.filter(raised_at__gte=since, raised_at__lt=delivery.created_at)
    counts = {str(s): new.filter(severity=s).count() for s in Severity.values}
    counts["new"] = sum(counts.values())
    counts["active"] = visible.active().count()
    return counts


def skip_reason(delivery: EmailDelivery, now: dt.datetime) -> str | None:
    """Why a delivery must not be sent now (None: send it)."""
    if delivery.status != DeliveryStatus.PENDING:
        return f"already {delivery.status}"
    alert = delivery.alert
    if alert is not None and alert.closed_reason == CONSENT_WITHDRAWN:
        return "cancelled: consent withdrawn"
    if delivery.kind == "escalation" and alert is not None and alert.state != AlertState.OPEN:
        return "cancelled: acknowledged or closed before the escalation went out"
    if delivery.not_before > now:
        return "deferred: quiet hours"
    return None


def send_delivery(delivery_id: int, now: dt.datetime | None = None) -> str:
    """Send one delivery at most once; returns what happened.

    Raises DeliveryFailedError on an SMTP or network failure (the row stays pending).
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            delivery = (
                EmailDelivery.objects.select_for_update(of=("self",))
                .select_related("organization", "alert__participant", "recipient")
                .get(pk=delivery_id)
            )
            reason = skip_reason(delivery, now)
            if reason is not None:
                if reason.startswith("cancelled"):
                    delivery.status = DeliveryStatus.CANCELLED
                    delivery.last_error = reason
                    delivery.save(update_fields=["status", "last_error"])
                return reason
            build_message(delivery).send()
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = now
            delivery.attempts = F("attempts") + 1
            delivery.save(update_fields=["status", "sent_at", "attempts"])
    except (smtplib.SMTPException, OSError) as exc:
        EmailDelivery.objects.filter(pk=delivery_id).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:300]
        )
        raise DeliveryFailedError(f"sending delivery {delivery_id} failed: {exc}") from exc
    return "sent"


def mark_failed(delivery_id: int) -> None:
    EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED
    )
    log.error("gave up on e-mail delivery %s after retries", delivery_id)


def due_delivery_ids(now: dt.datetime | None = None) -> list[int]:
    """Pending deliveries whose quiet hours are over (picked up by the periodic flush)."""
    now = now or timezone.now()
    rows = EmailDelivery.objects.filter(status=DeliveryStatus.PENDING, not_before__lte=now)
    return list(rows.order_by("not_before").values_list("pk", flat=True)[:500])


def cancel_pending_for_participant(participant_id: int, reason: str) -> int:
    return EmailDelivery.objects.filter(
        alert__participant_id=participant_id, status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.CANCELLED, last_error=reason)


def cancel_pending_escalations(alert_id: int, reason: str) -> int:
    return EmailDelivery.objects.filter(
        alert_id=alert_id, kind="escalation", status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.CANCELLED, last_error=reason)
