"""The pipeline benchmark's integrity figures (lost, duplicated) count what they claim."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import F

from bench.pipeline import distinct_acked, measure
from capture.models import MinuteAggregate
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.models import Participant
from wellbeing_capture.client import CaptureStats

pytestmark = pytest.mark.django_db

SCENE = "scenes/obama+biden.jpg"


@pytest.fixture
def stored_session(camera: Any, obama: Participant, biden: Participant) -> int:
    """A session with two frames stored through ingest (Celery eager)."""
    session_id = int(start_session(camera[1]).json()["session_id"])
    for sequence in (1, 2):
        assert post_frame(camera[1], session_id, sequence, read_face(SCENE)).status_code == 202
    return session_id


def test_a_clean_run_reports_nothing_lost_or_duplicated(stored_session: int) -> None:
    # given two acknowledged frames, one of them re-sent and answered "already received"
    acked = distinct_acked([CaptureStats(acked=3, duplicates=1)])
    # when the figures are measured
    figures = measure([stored_session], acked)
    # then the re-sent frame is neither lost nor duplicated
    assert (figures["stored_frames"], figures["observations"]) == (2, 4)
    assert (figures["lost"], figures["duplicated"]) == (0, 0)


def test_a_missing_frame_counts_as_lost(stored_session: int) -> None:
    # given three distinct acknowledged frames of which only two were stored
    figures = measure([stored_session], acked=3)
    # then one is lost
    assert figures["lost"] == 1


def test_double_counted_aggregates_count_as_duplicated(stored_session: int) -> None:
    # given minute aggregates that added each frame twice (the bug the figure must catch)
    rows = MinuteAggregate.objects.filter(session_id=stored_session)
    extra = sum(rows.values_list("n", flat=True))
    rows.update(n=F("n") * 2)
    # when the figures are measured
    figures = measure([stored_session], acked=2)
    # then every extra count is reported
    assert figures["duplicated"] == extra
