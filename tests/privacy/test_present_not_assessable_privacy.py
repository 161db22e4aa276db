""" "Present, not assessable" tallies follow every privacy rule of the other per-lesson data:
withdrawal deletes them and stops them, the nightly purge removes them after the per-minute
period, the subject export lists them and erasure deletes them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.urls import reverse
from django.utils import timezone

from capture.models import PresenceTally
from consent.actions import withdraw_consent
from consent.models import ConsentRecord
from privacy.retention import purge_expired_data
from privacy.subject_rights import carry_out_erasure, open_erasure_request
from tests.capture.conftest import back_row_student_jpeg, post_frame, start_session
from tests.conftest import login
from tests.time_series import add_presence_tally, make_session
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Classroom, Organization, Participant, StaffMember


def tally_of(participant: Participant, classroom: Classroom, seen: dt.datetime) -> PresenceTally:
    """A lesson in which the participant was present, not assessable in 12 frames."""
    return add_presence_tally(participant, make_session(classroom, seen), seen)


def test_withdrawal_deletes_the_tally_and_stops_it(
    school: Organization, camera: Any, obama: Participant
) -> None:
    # given Obama present, not assessable in a back-row frame
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    assert post_frame(token, session_id, 1, back_row_student_jpeg()).status_code == 202
    assert PresenceTally.objects.filter(participant=obama).count() == 1
    # when his consent is withdrawn, and another back-row frame arrives
    withdraw_consent(AuditContext.system(school), ConsentRecord.objects.get(participant=obama))
    assert post_frame(token, session_id, 2, back_row_student_jpeg()).status_code == 202
    # then his tally is gone and none is written again
    assert not PresenceTally.objects.exists()
    # and the withdrawal's audit event says how many tallies were deleted
    event = AuditEvent.objects.get(action="data.withdrawal_policy")
    assert event.detail["presence_tallies"] == 1


def test_purge_removes_tallies_after_the_per_minute_period(
    school: Organization, student: Participant, classroom: Classroom
) -> None:
    # given a school keeping per-minute data 30 days, a lesson 40 days ago and one today
    Organization.objects.filter(pk=school.pk).update(minute_aggregate_days=30)
    now = timezone.now()
    old = tally_of(student, classroom, now - dt.timedelta(days=40))
    fresh = tally_of(student, classroom, now - dt.timedelta(hours=1))
    # when the nightly purge runs
    removed = purge_expired_data(now=now)
    # then only the old lesson's tally went, and the purge counted it
    assert removed["capture.presencetally"] == 1
    assert list(PresenceTally.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not PresenceTally.objects.filter(pk=old.pk).exists()


def test_export_lists_the_tallies(
    admin: StaffMember, student: Participant, classroom: Classroom
) -> None:
    # given a lesson where the student was present, not assessable
    tally = tally_of(student, classroom, timezone.now())
    # when the admin exports the student's data
    response = login(admin).get(reverse("privacy:export", args=[student.pk]))
    # then the tally is in its own section, with its frames and times
    (row,) = json.loads(response.content)["capture.presencetally"]
    assert (row["session_id"], row["frames_not_assessable"]) == (tally.session_id, 12)
    assert row["first_seen"] == tally.first_seen.isoformat()


def test_erasure_deletes_the_tallies(
    school: Organization, student: Participant, classroom: Classroom
) -> None:
    # given a lesson where the student was present, not assessable
    tally_of(student, classroom, timezone.now())
    # when an erasure request is carried out
    ctx = AuditContext.system(school)
    deleted = carry_out_erasure(ctx, open_erasure_request(ctx, student, "guardian, by letter"))
    # then the tally went with the student
    assert deleted["capture.PresenceTally"] == 1
    assert not PresenceTally.objects.exists()
