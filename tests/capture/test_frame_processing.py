"""Frames through ingest and the worker code path (Celery eager in-process in these tests)."""

from __future__ import annotations

from typing import Any

import pytest

from capture.models import (
    ClassSession,
    DailyRollup,
    MinuteAggregate,
    Observation,
    ProcessedFrame,
    SessionTotal,
)
from consent.actions import withdraw_consent
from consent.models import ConsentRecord, FaceTemplate
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.actions import AuditContext
from wellbeing.models import Participant

pytestmark = pytest.mark.django_db

SCENE = "scenes/obama+biden.jpg"  # Obama, Biden and a child who is enrolled nowhere


def test_recognised_faces_are_stored_and_the_unknown_child_only_counted(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given a running session with two consented, enrolled participants
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when the three-face scene is sent
    response = post_frame(token, session_id, 1, read_face(SCENE))
    # then exactly the two consented people are observed, the child is only a count
    assert response.status_code == 202
    observed = set(Observation.objects.values_list("participant_id", flat=True))
    assert observed == {obama.pk, biden.pk}
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_processed, session.unknown_faces) == (1, 1)
    assert ProcessedFrame.objects.get().recognised == 2
    # and the frame bytes are gone from Redis
    assert list(redis_client.scan_iter("wb:frame:*")) == []


def test_unconsented_and_unknown_faces_are_never_stored(
    camera: Any, obama: Participant, redis_client: Any
) -> None:
    # given only Obama is consented (Biden is a participant without any consent or template)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    # when a frame showing Obama, Biden and the child is processed
    post_frame(token, session_id, 1, read_face(SCENE))
    # then only Obama has rows anywhere
    assert set(Observation.objects.values_list("participant_id", flat=True)) == {obama.pk}
    assert set(MinuteAggregate.objects.values_list("participant_id", flat=True)) == {obama.pk}
    assert ClassSession.objects.get(pk=session_id).unknown_faces == 2


def test_duplicate_frame_gives_one_set_of_observations(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given a frame that was stored
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    first = post_frame(token, session_id, 7, read_face(SCENE))
    # when the same (device, sequence) is sent again
    again = post_frame(token, session_id, 7, read_face(SCENE))
    # then it is acknowledged as already received and nothing is added
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "already received"
    assert Observation.objects.count() == 2
    assert sorted(MinuteAggregate.objects.values_list("n", flat=True)) == [1, 1]
    assert sorted(SessionTotal.objects.values_list("n", flat=True)) == [1, 1]


def test_redelivered_task_is_a_no_op(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given a stored frame whose task is delivered a second time (e.g. after a worker crash)
    from capture.frame_store import get_frame_store
    from capture.tasks import process_frame_task

    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    post_frame(token, session_id, 3, read_face(SCENE))
    frame = ProcessedFrame.objects.get()
    get_frame_store().put_frame(frame.frame_id, read_face(SCENE))
    # when the worker runs the task again
    result = process_frame_task.apply(
        args=(frame.frame_id, session_id, camera[0].pk, frame.captured_at.timestamp())
    ).get()
    # then nothing is written twice and the bytes are removed
    assert result == "duplicate"
    assert Observation.objects.count() == 2
    assert sorted(SessionTotal.objects.values_list("n", flat=True)) == [1, 1]
    assert ClassSession.objects.get(pk=session_id).frames_processed == 1
    assert list(redis_client.scan_iter("wb:frame:*")) == []


def test_consent_withdrawal_stops_attribution_at_the_next_frame(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given Obama was observed in a first frame (his templates are cached by this process)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    post_frame(token, session_id, 1, read_face(SCENE))
    assert Observation.objects.filter(participant=obama).count() == 1
    # when his guardian's consent is withdrawn between two frames
    record = ConsentRecord.objects.get(participant=obama)
    withdraw_consent(AuditContext.system(obama.organization), record)
    for sequence in (2, 3):
        post_frame(token, session_id, sequence, read_face(SCENE))
    # then no observation of Obama comes from any later frame (earlier ones may be deleted by
    # the organization's withdrawal policy); Biden is still observed in every frame
    later = [f"{camera[0].pk}:2", f"{camera[0].pk}:3"]
    assert not Observation.objects.filter(participant=obama, frame_id__in=later).exists()
    assert Observation.objects.filter(participant=biden).count() == 3
    assert not FaceTemplate.objects.filter(participant=obama).exists()


def test_withdrawal_counts_even_if_templates_were_not_destroyed(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given a refusal by the student (emotion_analysis only) while the template still exists
    from consent.models import Decision, GivenBy
    from tests.factories import grant_consent

    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    post_frame(token, session_id, 1, read_face(SCENE))
    grant_consent(
        obama, scopes=("emotion_analysis",), decision=Decision.REFUSE, given_by=GivenBy.STUDENT
    )
    assert FaceTemplate.objects.filter(participant=obama).exists()
    # when the next frame arrives
    post_frame(token, session_id, 2, read_face(SCENE))
    # then the per-frame consent check alone stops his attribution
    later = f"{camera[0].pk}:2"
    assert not Observation.objects.filter(participant=obama, frame_id=later).exists()
    assert Observation.objects.filter(participant=biden, frame_id=later).exists()


def test_minute_and_day_aggregates_equal_the_observations(
    camera: Any, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given three frames of one session (one or two minutes, depending on the clock)
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    for sequence, scene in enumerate([SCENE, "scenes/two_people.jpg", SCENE], start=1):
        post_frame(token, session_id, sequence, read_face(scene))
    # when the sums are compared with the raw observations
    for person in (obama, biden):
        rows = list(Observation.objects.filter(participant=person))
        minute_rows = MinuteAggregate.objects.filter(participant=person)
        total_n = sum(m.n for m in minute_rows)
        # then n and every probability sum match exactly (to float rounding)
        assert total_n == len(rows) == 3
        for name in ("happy", "sad", "neutral"):
            expected = sum(getattr(o, f"p_{name}") for o in rows)
            assert sum(getattr(m, f"s_{name}") for m in minute_rows) == pytest.approx(expected)
        day = DailyRollup.objects.get(participant=person)
        assert day.n == 3
        assert day.minutes_observed == minute_rows.count()
        assert day.sessions == 1
        # and so does the session total
        total = SessionTotal.objects.get(participant=person, session_id=session_id)
        assert (total.n, total.minutes_observed) == (3, minute_rows.count())
        assert total.s_sad == pytest.approx(sum(o.p_sad for o in rows))
