"""Who is e-mailed and when: caseload routing, the escalation ladder, quiet hours for the
digest, giving up on an unreachable mail server, and no reopening after consent withdrawal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.core import mail

from alerts.escalation import escalate_unacknowledged, send_daily_digests
from alerts.models import Alert, AlertPolicy, DeliveryStatus, EmailDelivery, Rule
from alerts.notifications import send_delivery
from alerts.tasks import MAX_SEND_RETRIES, backoff_seconds, send_delivery_task
from alerts.workflow import (
    AlertWorkflowError,
    acknowledge_alert,
    close_alert,
    reopen_alert,
    update_rule,
)
from consent.actions import withdraw_consent
from tests.alerts.conftest import quiet_hours_around_now, raise_alert_for
from tests.factories import make_staff
from tests.local_services import free_port
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant, Role, StaffMember


def test_only_counselors_with_the_student_on_their_caseload_are_emailed(
    school: Organization,
    pupils: list[Participant],
    admin: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a second counselor (immediate e-mails) whose caseload does not hold the student
    other = make_staff(school, Role.COUNSELOR, "counselor2")
    mates = make_staff(school, Role.COUNSELOR, "counselor3")
    mates.caseload.create(participant=pupils[1])
    # when
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then: only the student's own counselor is told; not the admin, not other counselors
    assert [m.to for m in mail.outbox] == [["counselor@example.org"]]
    assert other.user.email not in {d.to_address for d in EmailDelivery.objects.all()}


def test_escalation_climbs_to_the_next_contact_after_twice_the_delay(
    school: Organization,
    pupils: list[Participant],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an urgent alert, two contacts, 60 minutes per step
    settings.ALERT_ESCALATION_MINUTES = 60
    school.alert_contacts = ["head@example.org", "deputy@example.org"]
    school.save()
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    update_rule(AuditContext.system(school), rule, severity="urgent")
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    t0 = alert.raised_at
    # when: the escalation task runs every few minutes for three hours
    sent = []
    for minutes in range(0, 181, 5):
        now = t0 + dt.timedelta(minutes=minutes)
        sent += [(minutes, EmailDelivery.objects.get(pk=pk).to_address)
                 for pk in escalate_unacknowledged(now)]  # fmt: skip
    # then: the first contact after 60 min, the second after 120, nobody after that
    assert sent == [(60, "head@example.org"), (120, "deputy@example.org")]
    alert.refresh_from_db()
    assert alert.escalation_level == 2
    kinds = list(alert.events.values_list("kind", flat=True))
    assert kinds == ["raised", "escalated", "escalated"]


def test_digest_waits_for_quiet_hours_that_run_past_the_digest_hour(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a digest counselor with a new alert, quiet hours 20:00-08:00 in London
    counselor.email_preference = "digest"
    counselor.save()
    AlertPolicy.objects.filter(organization=school).update(
        quiet_start=dt.time(20), quiet_end=dt.time(8)
    )
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    london = zoneinfo.ZoneInfo("Europe/London")
    tomorrow = dt.datetime.now(london).date() + dt.timedelta(days=1)
    seven = dt.datetime.combine(tomorrow, dt.time(7, 5), tzinfo=london)
    eight = dt.datetime.combine(tomorrow, dt.time(8), tzinfo=london)
    Alert.objects.update(raised_at=seven - dt.timedelta(hours=15))
    # when: the digest is planned at 07:05
    made = send_daily_digests(now=seven)
    # then: it is held until the quiet hours end at 08:00
    digest = EmailDelivery.objects.get(pk=made[0])
    assert digest.not_before == eight
    assert send_delivery(digest.pk, now=seven) == "deferred: quiet hours"
    assert send_delivery(digest.pk, now=eight) == "sent" and len(mail.outbox) == 1


def test_unreachable_mail_server_is_retried_with_backoff_then_given_up(
    school: Organization,
    pupils: list[Participant],
    settings: Any,
    eager_retries: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: SMTP pointed at a port where nothing listens
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    # when: an alert is raised (its e-mail task runs and retries in-process)
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then: one try plus MAX_SEND_RETRIES retries, then the delivery is marked failed
    delivery = EmailDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_SEND_RETRIES + 1 and delivery.sent_at is None
    assert "Connection refused" in delivery.last_error or "Errno" in delivery.last_error
    # and a later redelivery of the task sends nothing
    assert send_delivery_task.delay(delivery.pk).get() == "already failed"
    # and the waits between tries grow exponentially up to a cap
    assert [backoff_seconds(r) for r in range(8)] == [30, 60, 120, 240, 480, 960, 1800, 1800]


def test_alert_closed_by_consent_withdrawal_cannot_be_reopened(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an alert closed automatically because consent was withdrawn
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    withdraw_consent(AuditContext.system(school), pupils[0].consent_records.get(), note="Family")
    alert.refresh_from_db()
    ctx = AuditContext.system(school)
    # when / then: neither reopening nor closing it again is allowed
    with pytest.raises(AlertWorkflowError, match="consent was withdrawn"):
        reopen_alert(ctx, counselor, alert, "Still worried")
    with pytest.raises(AlertWorkflowError):
        close_alert(ctx, counselor, alert, "dismissed")
    alert.refresh_from_db()
    assert (alert.state, alert.closed_reason) == ("resolved", "consent_withdrawn")


@pytest.mark.parametrize("ignores", [True, False])
def test_urgent_alerts_break_quiet_hours_unless_the_school_says_otherwise(
    school: Organization,
    pupils: list[Participant],
    ignores: bool,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: quiet hours around the current local time, an urgent rule
    quiet_hours_around_now(school, urgent_ignores_quiet_hours=ignores)
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    update_rule(AuditContext.system(school), rule, severity="urgent")
    # when
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then: sent at once by default, held when the school wants quiet hours kept for urgent too
    delivery = EmailDelivery.objects.get()
    assert len(mail.outbox) == (1 if ignores else 0)
    assert delivery.status == (DeliveryStatus.SENT if ignores else DeliveryStatus.PENDING)


def test_alert_closed_before_consent_was_withdrawn_cannot_be_reopened(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: the counselor resolved the alert, then the guardian withdrew consent
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    ctx = AuditContext.system(school)
    close_alert(ctx, counselor, alert, "resolved", "Talked with the student")
    withdraw_consent(ctx, pupils[0].consent_records.get(), note="Family")
    # when / then: reopening is refused and the alert stays resolved
    with pytest.raises(AlertWorkflowError, match="no longer has consent"):
        reopen_alert(ctx, counselor, alert, "Worried again")
    alert.refresh_from_db()
    assert alert.state == "resolved"


def urgent_alert_raised_hours_ago(
    school: Organization, pupils: list[Participant], captured: Any, hours: int
) -> Alert:
    """An urgent alert (contacts: head, then deputy) whose raised_at lies ``hours`` back."""
    school.alert_contacts = ["head@example.org", "deputy@example.org"]
    school.save()
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    update_rule(AuditContext.system(school), rule, severity="urgent")
    alert = raise_alert_for(school, pupils, captured)
    Alert.objects.filter(pk=alert.pk).update(raised_at=alert.raised_at - dt.timedelta(hours=hours))
    alert.refresh_from_db()
    return alert


def test_reopened_urgent_alert_escalates_counted_from_its_reopening(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an urgent alert raised 5 hours ago, escalated to the head after 60 minutes, then
    # acknowledged and resolved; later the counselor reopens it
    settings.ALERT_ESCALATION_MINUTES = 60
    alert = urgent_alert_raised_hours_ago(school, pupils, django_capture_on_commit_callbacks, 5)
    first = escalate_unacknowledged(alert.raised_at + dt.timedelta(minutes=61))
    ctx = AuditContext.system(school)
    acknowledge_alert(ctx, counselor, alert)
    close_alert(ctx, counselor, alert, "resolved", "Talked with the student")
    reopen_alert(ctx, counselor, alert, "Worried again")
    reopened_at = alert.events.get(kind="reopened").created_at
    # when: the escalation task runs every 5 minutes for three hours after the reopening
    sent = []
    for minutes in range(0, 181, 5):
        now = reopened_at + dt.timedelta(minutes=minutes)
        sent += [(minutes, EmailDelivery.objects.get(pk=pk).to_address)
                 for pk in escalate_unacknowledged(now)]  # fmt: skip
    # then: nothing at once although raised_at is old; the ladder restarts at the head
    assert [EmailDelivery.objects.get(pk=pk).to_address for pk in first] == ["head@example.org"]
    assert sent == [(60, "head@example.org"), (120, "deputy@example.org")]
    kinds = list(alert.events.values_list("kind", flat=True))
    assert kinds[-4:] == ["resolved", "reopened", "escalated", "escalated"]


def test_escalation_held_by_quiet_hours_is_cancelled_when_the_alert_is_reopened(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: quiet hours kept for urgent alerts too; an escalation to the head held by them,
    # then the alert acknowledged and resolved
    settings.ALERT_ESCALATION_MINUTES = 60
    quiet_hours_around_now(school, urgent_ignores_quiet_hours=False)
    alert = urgent_alert_raised_hours_ago(school, pupils, django_capture_on_commit_callbacks, 2)
    held = escalate_unacknowledged(dt.datetime.now(dt.UTC))
    ctx = AuditContext.system(school)
    acknowledge_alert(ctx, counselor, alert)
    close_alert(ctx, counselor, alert, "resolved", "Talked with the student")
    # when: the counselor reopens it before the quiet hours end
    reopen_alert(ctx, counselor, alert, "Worried again")
    # then: the old episode's escalation is not sent when the quiet hours are over
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    assert len(held) == 1
    assert send_delivery(held[0], now=later) == "already cancelled"
    assert [m.to for m in mail.outbox if "Escalated" in m.subject] == []
