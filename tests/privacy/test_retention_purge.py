"""The nightly purge removes data past each school's periods, in batches, and keeps the rest."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from alerts.models import Alert, Rule
from capture.models import (
    ClassSession,
    DailyRollup,
    MinuteAggregate,
    Observation,
    PresenceTally,
    ProcessedFrame,
    SessionTotal,
)
from privacy.models import DeidentifiedDailyTotal
from privacy.retention import purge_expired_data
from privacy.tasks import purge_expired_data_task
from tests.factories import make_organization, make_participant
from tests.time_series import add_presence_tally, add_series
from wellbeing.models import AuditEvent, Classroom, Organization, Participant


def test_purge_respects_each_period(student: Participant) -> None:
    # given rows 10 days old (raw kept 7 days, aggregates 180) and fresh rows
    add_series(student, timezone.now() - dt.timedelta(days=10))
    add_series(student, timezone.now())
    AuditEvent.objects.create(
        organization=student.organization,
        action="old",
        created_at=timezone.now() - dt.timedelta(days=2000),
    )
    # when the purge runs with a tiny batch size
    removed = purge_expired_data(batch_size=1)
    # then only the old raw observation and the old audit event went
    assert removed["capture.observation"] == 1
    assert removed["wellbeing.auditevent"] == 1
    assert Observation.objects.count() == 1
    assert MinuteAggregate.objects.count() == 2 and DailyRollup.objects.count() == 2
    assert SessionTotal.objects.count() == 2


def test_purge_uses_each_schools_own_period(student: Participant) -> None:
    # given another school that keeps raw observations for 30 days
    other = make_organization("Keeps Longer", raw_observation_days=30)
    their_student = make_participant(
        other, "Other", classroom=Classroom.objects.create(organization=other, name="X")
    )
    add_series(student, timezone.now() - dt.timedelta(days=10))
    add_series(their_student, timezone.now() - dt.timedelta(days=10))
    # when purged, then only the first school's row goes
    purge_expired_data()
    assert list(Observation.objects.values_list("participant_id", flat=True)) == [their_student.pk]


def test_every_kind_goes_after_its_own_period_and_the_purge_says_so(
    school: Organization, student: Participant, caplog: pytest.LogCaptureFixture
) -> None:
    # given periods of 7 (raw), 30 (minutes), 60 (days), 90 (alerts) and 120 (audit) days
    Organization.objects.filter(pk=school.pk).update(
        raw_observation_days=7,
        minute_aggregate_days=30,
        daily_rollup_days=60,
        alert_days=90,
        audit_days=120,
    )
    now = timezone.now()
    for age in (0, 10, 40, 70):  # one observation, minute, session, presence, day row each age
        at = now - dt.timedelta(days=age)
        add_presence_tally(student, add_series(student, at), at)
    session = ClassSession.objects.filter(started_at__lt=now - dt.timedelta(days=8)).first()
    assert session is not None
    for age, frame in ((0, "fresh"), (10, "old")):
        ProcessedFrame.objects.create(frame_id=frame, session=session, captured_at=now)
        ProcessedFrame.objects.filter(frame_id=frame).update(
            processed_at=now - dt.timedelta(days=age)
        )
    for age in (0, 70):
        DeidentifiedDailyTotal.objects.create(
            organization=school, grade="7", day=(now - dt.timedelta(days=age)).date()
        )
    for age in (0, 100):
        _alert(student, now - dt.timedelta(days=age))
    AuditEvent.objects.create(organization=school, action="old", created_at=now - _days(130))
    # when the nightly task runs
    with caplog.at_level(logging.INFO, logger="privacy.retention"):
        removed = purge_expired_data_task.apply().get()
    # then each kind lost exactly its expired rows
    assert removed == {
        "capture.observation": 3,
        "capture.processedframe": 1,
        "capture.minuteaggregate": 2,
        "capture.sessiontotal": 2,
        "capture.presencetally": 2,
        "capture.dailyrollup": 1,
        "privacy.deidentifieddailytotal": 1,
        "alerts.alert": 1,
        "wellbeing.auditevent": 1,
    }
    assert Observation.objects.count() == 1 and MinuteAggregate.objects.count() == 2
    assert SessionTotal.objects.count() == 2 and PresenceTally.objects.count() == 2
    assert DailyRollup.objects.count() == 3 and Alert.objects.count() == 1
    assert list(ProcessedFrame.objects.values_list("frame_id", flat=True)) == ["fresh"]
    assert not AuditEvent.objects.filter(action="old").exists()
    # and the log says what was removed, per kind
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "retention purge capture.minuteaggregate: 2 rows" in logged
    assert "retention purge alerts.alert: 1 rows" in logged


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _alert(participant: Participant, raised_at: dt.datetime) -> Alert:
    rule = Rule.objects.filter(organization=participant.organization).first()
    assert rule is not None
    day = raised_at.date()
    return Alert.objects.create(
        organization=participant.organization,
        participant=participant,
        rule=rule,
        rule_slug=rule.slug,
        severity="notify",
        state="resolved",
        evidence={},
        window_start=day - _days(4),
        window_end=day,
        raised_at=raised_at,
    )
