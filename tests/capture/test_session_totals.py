"""The worker keeps one SessionTotal per participant and session equal to their minute rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Count, Min, Sum

from capture.models import ClassSession, MinuteAggregate, SessionTotal
from capture.timeseries import FaceObservation, FrameOutcome, store_frame_outcome
from inference.model_manifest import CANONICAL_CLASSES
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.models import Classroom, Organization, Participant

pytestmark = pytest.mark.django_db

SUMMED = ("n", *(f"s_{name}" for name in CANONICAL_CLASSES), "engaged_n", "engagement_known_n",
          "quality_sum")  # fmt: skip


@pytest.fixture
def pair(school: Organization, classroom: Classroom, notice: Any) -> list[Participant]:
    """Two consented students of 7B."""
    people = [make_participant(school, f"Pair {i}", classroom=classroom) for i in range(2)]
    for person in people:
        grant_consent(person, make_guardian(person))
    return people


def observation(person: Participant, sad: float, engaged: bool | None) -> FaceObservation:
    probs = {name: 0.0 for name in CANONICAL_CLASSES} | {"sad": sad, "neutral": 1 - sad}
    return FaceObservation(person.pk, probs, "sad", engaged, 0.0, 0.0, 0.5 + sad / 2)


def store(
    school: Organization, session: ClassSession, sequence: int, at: dt.datetime, faces: list[Any]
) -> bool:
    outcome = FrameOutcome(f"cam:{sequence}", session.pk, None, at, len(faces), 0, 0, faces)
    return store_frame_outcome(school.pk, school.tzinfo, outcome)


def minute_sums(person: Participant, session: ClassSession) -> dict[str, Any]:
    rows = MinuteAggregate.objects.filter(participant=person, session=session)
    return rows.aggregate(**{c: Sum(c) for c in SUMMED}, minutes=Count("id"), first=Min("minute"))


def test_session_total_is_the_sum_of_the_minute_rows_whatever_the_order_and_redelivery(
    school: Organization, classroom: Classroom, pair: list[Participant]
) -> None:
    # given a lesson from 09:00 UTC whose frames (every 20 s, the second student in every
    # third frame only) are stored out of order, and two of them delivered twice
    session = ClassSession.objects.create(classroom=classroom, status="running")
    nine = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    frames = []
    for i in range(15):
        faces = [observation(pair[0], (i % 5) / 5, i % 2 == 0)]
        if i % 3 == 0:
            faces.append(observation(pair[1], 0.1 * (i % 4), None if i % 2 else True))
        frames.append((i, nine + dt.timedelta(seconds=20 * i), faces))
    order = [*frames[4:], *frames[:4], frames[6], frames[0]]
    # when the worker stores them
    stored = [store(school, session, i, at, faces) for i, at, faces in order]
    # then the redelivered frames wrote nothing, and each student's session total equals the
    # sums of their minute rows, counts their minutes and starts at their first minute
    assert stored.count(False) == 2
    for person in pair:
        total = SessionTotal.objects.get(participant=person, session=session)
        expected = minute_sums(person, session)
        for column in SUMMED:
            assert getattr(total, column) == pytest.approx(expected[column]), column
        assert total.minutes_observed == expected["minutes"] == 5
        assert total.first_minute == expected["first"] == nine
        assert total.organization_id == school.pk


def test_first_minute_and_local_day_follow_a_late_frame_from_before_local_midnight(
    school: Organization, classroom: Classroom, pair: list[Participant]
) -> None:
    # given a school in New York and a session that runs across local midnight
    school.timezone = "America/New_York"
    school.save(update_fields=["timezone"])
    session = ClassSession.objects.create(classroom=classroom, status="running")
    after_midnight = dt.datetime(2026, 3, 3, 0, 5, tzinfo=school.tzinfo)
    before_midnight = after_midnight - dt.timedelta(minutes=10)
    # when the frame after midnight is stored first and the earlier one arrives late
    store(school, session, 2, after_midnight, [observation(pair[0], 0.5, True)])
    first = SessionTotal.objects.get(session=session)
    store(school, session, 1, before_midnight, [observation(pair[0], 0.5, True)])
    # then the total moved to the earlier minute and its local day
    total = SessionTotal.objects.get(session=session)
    assert (first.first_minute, first.day) == (after_midnight, dt.date(2026, 3, 3))
    assert (total.first_minute, total.day) == (before_midnight, dt.date(2026, 3, 2))
    assert (total.n, total.minutes_observed) == (2, 2)


def test_nothing_is_totalled_for_a_frame_without_observations(
    school: Organization, classroom: Classroom, pair: list[Participant]
) -> None:
    # given a session, when a frame in which nobody was recognised is stored
    session = ClassSession.objects.create(classroom=classroom, status="running")
    store(school, session, 1, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), [])
    # then there is no session total (and no minute row)
    assert not SessionTotal.objects.exists() and not MinuteAggregate.objects.exists()
