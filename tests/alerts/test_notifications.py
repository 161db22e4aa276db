"""E-mail: content, preferences, quiet hours, escalation, digest and consent withdrawal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from alerts.escalation import escalate_unacknowledged, send_daily_digests
from alerts.evaluation import evaluate_organization
from alerts.models import Alert, AlertPolicy, DeliveryStatus, EmailDelivery, Rule
from alerts.notifications import due_delivery_ids, send_delivery
from alerts.workflow import acknowledge_alert, update_rule
from consent.actions import withdraw_consent
from tests.alerts.conftest import quiet_hours_around_now, raise_alert_for
from tests.time_series import school_days, write_day, write_series
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant, StaffMember

EMOTION_WORDS = ("sad", "angry", "fear", "disgust", "negative", "emotion", "affect", "0.6")


def test_alert_email_links_to_alert_without_name_or_emotion_data(
    school: Organization, pupils: list[Participant], django_capture_on_commit_callbacks: Any
) -> None:
    # when: an alert is raised for a student on the counselor's caseload
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then: one e-mail, plain and HTML, with the link and nothing about the student
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert message.to == ["counselor@example.org"]
    for body in (str(message.subject), str(message.body), html):
        assert f"/alerts/{alert.pk}/" in body or body == message.subject
        assert pupils[0].full_name not in body and pupils[0].pseudonym not in body
        assert not any(word in body.lower() for word in EMOTION_WORDS)


def test_name_appears_only_when_the_school_allows_it(
    school: Organization, pupils: list[Participant], django_capture_on_commit_callbacks: Any
) -> None:
    # given: the school allows names in e-mails
    school.email_includes_student_name = True
    school.save()
    # when
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then
    assert pupils[0].full_name in mail.outbox[0].body


@pytest.mark.parametrize("preference", ["digest", "none"])
def test_counselor_preference_suppresses_immediate_email(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    preference: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: the counselor chose the digest or dashboard only
    counselor.email_preference = preference
    counselor.save()
    # when
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then
    assert mail.outbox == [] and not EmailDelivery.objects.exists()


def test_daily_digest_once_per_local_day(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a digest counselor with a new alert; 07:00 in London
    counselor.email_preference = "digest"
    counselor.save()
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    london = zoneinfo.ZoneInfo("Europe/London")
    tomorrow = dt.datetime.now(london).date() + dt.timedelta(days=1)
    seven = dt.datetime.combine(tomorrow, dt.time(7, 5), tzinfo=london)
    # The alert was raised the afternoon before, whatever the wall clock says now.
    Alert.objects.update(raised_at=seven - dt.timedelta(hours=15))
    # when: the hourly digest task runs twice in that hour (and once in another hour)
    other_hour = send_daily_digests(now=seven - dt.timedelta(hours=1))
    first = send_daily_digests(now=seven)
    again = send_daily_digests(now=seven + dt.timedelta(minutes=30))
    assert send_delivery(first[0], now=seven) == "sent"
    # then: one digest with counts and the inbox link only
    assert other_hour == [] and len(first) == 1 and again == []
    assert len(mail.outbox) == 1 and "/alerts/" in mail.outbox[0].body
    assert "New alerts in the last 24 hours: 1" in mail.outbox[0].body


def test_quiet_hours_defer_until_morning(
    school: Organization, pupils: list[Participant], django_capture_on_commit_callbacks: Any
) -> None:
    # given: quiet hours 20:00-07:00 in the school's time zone (London)
    AlertPolicy.objects.filter(organization=school).update(
        quiet_start=dt.time(20), quiet_end=dt.time(7)
    )
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.65)
    # Tomorrow evening, so the real clock of the queued send task is still before morning.
    london = zoneinfo.ZoneInfo("Europe/London")
    tomorrow = dt.datetime.now(london).date() + dt.timedelta(days=1)
    evening = dt.datetime.combine(tomorrow, dt.time(21, 30), tzinfo=london)
    morning = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(7), tzinfo=london)
    # when: an alert is raised at 21:30 local time
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_organization(school, as_of=days[24], now=evening)
    delivery = EmailDelivery.objects.get()
    # then: held until 07:00, then sent once by the flush
    assert mail.outbox == [] and delivery.not_before == morning
    assert due_delivery_ids(morning - dt.timedelta(minutes=1)) == []
    assert due_delivery_ids(morning) == [delivery.pk]
    assert send_delivery(delivery.pk, now=morning) == "sent"
    assert send_delivery(delivery.pk, now=morning) == "already sent"
    assert len(mail.outbox) == 1


def test_escalation_fires_after_delay_and_stops_on_acknowledgement(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    # given: an urgent rule, two alert contacts, escalation after 120 minutes
    settings.ALERT_ESCALATION_MINUTES = 120
    school.alert_contacts = ["head@example.org", "deputy@example.org"]
    school.save()
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    update_rule(AuditContext.system(school), rule, severity="urgent")
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    t0 = alert.raised_at
    # when / then: nothing before the delay, the first contact after it, once
    assert escalate_unacknowledged(t0 + dt.timedelta(minutes=119)) == []
    due = t0 + dt.timedelta(minutes=121)
    made = escalate_unacknowledged(due)
    assert escalate_unacknowledged(due + dt.timedelta(minutes=1)) == []
    assert [send_delivery(pk, now=due) for pk in made] == ["sent"]
    assert [m.to for m in mail.outbox] == [["head@example.org"]]
    assert "not been acknowledged" in mail.outbox[0].body
    # when: the counselor acknowledges; then: no second escalation later
    acknowledge_alert(AuditContext.system(school), counselor, alert, "Spoke with the student.")
    assert escalate_unacknowledged(t0 + dt.timedelta(minutes=300)) == []
    assert len(mail.outbox) == 1


def test_escalation_queued_before_acknowledgement_is_not_sent(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an urgent alert whose escalation e-mail is queued but not yet sent
    school.alert_contacts = ["head@example.org"]
    school.save()
    rule = Rule.objects.current().get(organization=school, slug="sustained-negative")
    update_rule(AuditContext.system(school), rule, severity="urgent")
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    due = alert.raised_at + dt.timedelta(hours=3)
    made = escalate_unacknowledged(due)
    # when: the counselor acknowledges before the worker sends it
    acknowledge_alert(AuditContext.system(school), counselor, alert)
    # then: the send is cancelled
    assert [send_delivery(pk, now=due) for pk in made] == [
        "cancelled: acknowledged or closed before the escalation went out"
    ]
    assert [m.to for m in mail.outbox] == [["counselor@example.org"]]


def test_withdrawn_consent_closes_alerts_and_sends_nothing_more(
    school: Organization,
    pupils: list[Participant],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an open alert whose e-mail is still held by quiet hours
    quiet_hours_around_now(school)
    alert = raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    delivery = EmailDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    # when: the guardian withdraws consent
    record = pupils[0].consent_records.get()
    withdraw_consent(AuditContext.system(school), record, note="Family request")
    # then: the alert is closed, the e-mail cancelled, and nothing is sent or raised again
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.closed_reason == "consent_withdrawn"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert send_delivery(delivery.pk, now=later) == "already cancelled"
    with django_capture_on_commit_callbacks(execute=True):
        report = evaluate_organization(school, as_of=school_days(25)[-1])
    assert report.raised == [] and mail.outbox == []
