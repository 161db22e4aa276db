"""Session windows: the worker's per-session totals, judged after the session ends."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count, Sum

from alerts.models import Alert
from alerts.rules import TOTAL_FIELDS
from alerts.series import load_session_series
from alerts.tasks import evaluate_session_task
from alerts.workflow import create_rule
from capture.models import ClassSession, MinuteAggregate
from capture.timeseries import FaceObservation, FrameOutcome, store_frame_outcome
from inference.model_manifest import CANONICAL_CLASSES
from tests.alerts.conftest import write_session
from tests.time_series import school_days, write_series
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization, Participant


def face(pupil: Participant, frame: int, k: int) -> FaceObservation:
    """Pupil ``k``'s observation in a frame: shares and attention vary with frame and pupil."""
    sad = ((7 * frame + 3 * k) % 6) / 10
    probs = dict.fromkeys(CANONICAL_CLASSES, 0.0) | {"sad": sad, "fear": sad / 2}
    probs["happy"] = 1 - 1.5 * sad
    return FaceObservation(pupil.pk, probs, "sad", (None, True, False)[(frame + k) % 3], 0, 0, 0.8)


def store_lesson(school: Organization, session: ClassSession, pupils: list[Participant]) -> None:
    """Frames of a 4-minute lesson (every 20 s) through the worker's storing path: pupils miss
    some frames, one frame is redelivered and one arrives late."""
    assert session.started_at is not None
    frames = []
    for i in range(12):
        faces = [face(p, i, k) for k, p in enumerate(pupils) if (i + k) % 4]
        at = session.started_at + dt.timedelta(seconds=20 * i)
        frames.append(FrameOutcome(f"s{session.pk}:{i}", session.pk, None, at, 6, 0, 0, faces))
    for outcome in [*frames[1:], frames[0], frames[5]]:
        store_frame_outcome(school.pk, school.tzinfo, outcome)


def test_session_rule_alerts_the_sad_student_after_the_session(
    school: Organization, classroom: Classroom, pupils: list[Participant]
) -> None:
    # given: a session-window rule (3 of 5 days, class-session median + 0.1, no baseline)
    create_rule(
        AuditContext.system(school), "session-negative", name="Negative in class sessions",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=0, class_margin=0.1, persistence_m=3, persistence_d=5, mode="active",
    )  # fmt: skip
    days = school_days(5)
    write_series(pupils, days, 0.15)  # the school days
    sessions = [
        write_session(classroom, day, {p: (0.7 if p == pupils[0] and i % 2 == 0 else 0.15)
                                       for p in pupils})
        for i, day in enumerate(days)
    ]  # fmt: skip
    # when: the pipeline reports the last session ended (twice: a redelivered message)
    first = evaluate_session_task.delay(sessions[-1].pk).get()
    second = evaluate_session_task.delay(sessions[-1].pk).get()
    # then: one alert for the student, its evidence naming the sessions
    alert = Alert.objects.get(rule_slug="session-negative")
    assert first == {"raised": 1, "cleared": 0} and second == {"raised": 0, "cleared": 0}
    assert alert.participant == pupils[0]
    abnormal = [w["window"] for w in alert.evidence["windows"] if w["abnormal"]]
    assert abnormal == [f"session {sessions[i].pk}" for i in (0, 2, 4)]


def test_session_windows_are_the_sums_of_the_minute_rows_the_worker_stored(
    school: Organization, classroom: Classroom, pupils: list[Participant]
) -> None:
    # given: two lessons on two days whose frames went through the worker's storing path
    days = school_days(2)
    sessions = []
    for day in days:
        start = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
        session = ClassSession.objects.create(classroom=classroom, started_at=start)
        store_lesson(school, session, pupils)
        sessions.append(session)
    # when: the engine loads the session windows
    bundle = load_session_series(school, days[0], days[-1], {p.pk for p in pupils})
    # then: each is the sum of that student's minute rows of that lesson (what evaluation used
    # to sum on every run), with its minute count and the lesson's local day
    sums = {f"t_{c}": Sum(c) for c in TOTAL_FIELDS[:-1]}
    per_session = (
        MinuteAggregate.objects.values("participant_id", "session_id")
        .annotate(**sums, minutes=Count("id"))
        .values_list("participant_id", "session_id", *sums, "minutes")
    )
    expected = {(pid, f"session {sid}"): totals for pid, sid, *totals in per_session}
    loaded = {(pid, w.label): w for pid, ws in bundle.windows.items() for w in ws}
    assert loaded.keys() == expected.keys() and len(loaded) == 2 * len(pupils)
    for key, window in loaded.items():
        assert list(window.totals) == pytest.approx(expected[key]), key
        assert window.totals[-1] == 4
    by_session = {f"session {s.pk}": day for s, day in zip(sessions, days, strict=True)}
    assert all(w.day == by_session[label] for (_, label), w in loaded.items())
