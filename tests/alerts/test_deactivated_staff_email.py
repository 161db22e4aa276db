"""Deactivated staff are e-mailed nothing: no alert e-mails, no digests."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.core import mail

from alerts.escalation import send_daily_digests
from alerts.models import Alert, EmailDelivery
from tests.alerts.conftest import raise_alert_for
from wellbeing.models import Organization, Participant, StaffMember


def _deactivate(staff: StaffMember) -> None:
    # As the operator's Django admin does (the school admin's deactivation also moves the
    # caseload away, which would hide the rule this tests).
    staff.user.is_active = False
    staff.user.save(update_fields=["is_active"])


def test_a_deactivated_counselor_gets_no_alert_email(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given the caseload's counselor was switched off but still holds the caseload
    _deactivate(counselor)
    # when an alert is raised for a student of that caseload
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    # then the alert exists but nobody is e-mailed
    assert Alert.objects.count() == 1
    assert mail.outbox == [] and not EmailDelivery.objects.exists()


def test_a_deactivated_digest_reader_gets_no_digest(
    school: Organization,
    pupils: list[Participant],
    counselor: StaffMember,
    admin: StaffMember,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given an admin and a counselor who chose the daily digest, and a new alert
    for staff in (admin, counselor):
        staff.email_preference = "digest"
        staff.save()
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    london = zoneinfo.ZoneInfo("Europe/London")
    seven = dt.datetime.combine(
        dt.datetime.now(london).date() + dt.timedelta(days=1), dt.time(7, 5), tzinfo=london
    )
    Alert.objects.update(raised_at=seven - dt.timedelta(hours=15))
    # when the admin is deactivated and the digest hour comes
    _deactivate(admin)
    made = send_daily_digests(now=seven)
    # then only the active counselor's digest is planned
    recipients = EmailDelivery.objects.filter(pk__in=made).values_list("recipient", flat=True)
    assert list(recipients) == [counselor.pk]
