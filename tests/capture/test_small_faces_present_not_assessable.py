"""A consented student whose face is too small for an expression counts as present but not
assessable: nothing about their expression is stored, the live numbers say so, and a per-session
tally (PresenceTally) records for them only that they were there."""

from __future__ import annotations

import time
from typing import Any

import pytest

from capture import processing
from capture.models import ClassSession, Observation, PresenceTally
from capture.processing import outcome_of
from capture.timeseries import store_frame_outcome
from consent.actions import withdraw_consent
from consent.models import ConsentRecord
from tests.capture.conftest import back_row_student_jpeg, post_frame, start_session
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant

pytestmark = pytest.mark.django_db


def test_small_face_is_present_not_assessable(
    camera: Any, obama: Participant, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the live view listening, and a frame where Obama sits in the back row
    pushed: list[dict[str, Any]] = []
    monkeypatch.setattr(processing, "push_live_summary", pushed.append)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when the frame is processed
    assert post_frame(token, session_id, 1, back_row_student_jpeg()).status_code == 202
    # then no expression is stored for him, and he counts as present, not assessable
    assert not Observation.objects.exists()
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_processed, session.not_assessable_faces) == (1, 1)
    (summary,) = pushed
    assert (summary["faces_seen"], summary["recognised"]) == (1, 0)
    assert (summary["not_assessable"], summary["unknown"]) == (1, 0)


def test_back_row_frames_leave_a_presence_tally_and_no_expression(
    camera: Any, obama: Participant
) -> None:
    # given Obama in the back row in two frames, stored out of order
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    later, earlier = time.time(), time.time() - 30
    # when both frames are processed
    frame = back_row_student_jpeg()
    assert post_frame(token, session_id, 1, frame, captured_at=later).status_code == 202
    assert post_frame(token, session_id, 2, frame, captured_at=earlier).status_code == 202
    # then his session tally counts both frames over the span they cover, and nothing else
    tally = PresenceTally.objects.get()
    assert (tally.participant_id, tally.session_id) == (obama.pk, session_id)
    assert tally.frames_not_assessable == 2
    assert tally.first_seen.timestamp() == pytest.approx(earlier, abs=1e-3)
    assert tally.last_seen.timestamp() == pytest.approx(later, abs=1e-3)
    assert not Observation.objects.exists()
    # and he counts as seen (the caseload must not say "never")
    obama.refresh_from_db()
    assert obama.last_seen_at == tally.last_seen


def test_unknown_small_face_leaves_no_tally(camera: Any, obama: Participant) -> None:
    # given Biden, enrolled nowhere and without consent, in the back row of Obama's class
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when the frame is processed
    assert post_frame(token, session_id, 1, back_row_student_jpeg("biden")).status_code == 202
    # then he is an anonymous count only: no tally, no observation of anyone
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_processed, session.unknown_faces, session.not_assessable_faces) == (
        1,
        1,
        0,
    )
    assert not PresenceTally.objects.exists() and not Observation.objects.exists()


def test_redelivered_frame_does_not_count_twice(
    school: Organization, camera: Any, obama: Participant
) -> None:
    # given a back-row frame of Obama analysed once
    session_id = start_session(camera[1]).json()["session_id"]
    session = ClassSession.objects.get(pk=session_id)
    outcome = outcome_of(
        f"{camera[0].pk}:1", session, camera[0].pk, time.time(), back_row_student_jpeg()
    )
    assert outcome is not None and outcome.present_not_assessable == [obama.pk]
    # when the worker stores it, and a redelivered task stores the same frame again
    assert store_frame_outcome(school.pk, school.tzinfo, outcome)
    assert not store_frame_outcome(school.pk, school.tzinfo, outcome)
    # then his tally counts the frame once
    assert PresenceTally.objects.get(participant=obama).frames_not_assessable == 1


def test_frame_analysed_while_consent_ends_leaves_no_tally(
    school: Organization, camera: Any, obama: Participant
) -> None:
    # given a back-row frame whose analysis recognised Obama while he was consented
    session_id = start_session(camera[1]).json()["session_id"]
    session = ClassSession.objects.get(pk=session_id)
    outcome = outcome_of(
        f"{camera[0].pk}:1", session, camera[0].pk, time.time(), back_row_student_jpeg()
    )
    assert outcome is not None and outcome.present_not_assessable == [obama.pk]
    # when his consent is withdrawn before the frame is stored
    ctx = AuditContext.system(school)
    withdraw_consent(ctx, ConsentRecord.objects.get(participant=obama))
    assert store_frame_outcome(school.pk, school.tzinfo, outcome)
    # then nothing of him is stored: the face counts as unknown, like any unattributed face
    assert not PresenceTally.objects.exists()
    session.refresh_from_db()
    assert (session.unknown_faces, session.not_assessable_faces) == (1, 0)
    obama.refresh_from_db()
    assert obama.last_seen_at is None
