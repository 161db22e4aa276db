"""The nightly purge removes data past each school's periods, in batches, and keeps the rest."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from capture.models import DailyRollup, MinuteAggregate, Observation
from privacy.retention import purge_expired_data
from tests.factories import make_organization, make_participant
from tests.privacy.series_data import add_series
from wellbeing.models import AuditEvent, Classroom, Participant


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
