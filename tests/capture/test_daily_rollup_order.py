"""The daily rollup counts a session once per participant, whatever order its frames arrive in."""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo
from typing import Any

import pytest

from capture.models import DailyRollup
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.models import Organization, Participant

pytestmark = pytest.mark.django_db


def two_minutes_of_one_local_day(tz: tzinfo) -> tuple[float, float]:
    """Capture times in two consecutive minutes of the same local day, within the last hour."""
    start = (int(time.time()) // 60 - 3) * 60
    while datetime.fromtimestamp(start, tz).date() != datetime.fromtimestamp(start + 60, tz).date():
        start -= 60
    return start + 5.0, start + 65.0


def test_a_late_frame_of_an_earlier_minute_does_not_count_the_session_twice(
    camera: Any, school: Organization, obama: Participant, redis_client: Any
) -> None:
    # given a session whose frame of minute M+1 was stored before its frame of minute M
    # (two workers, or a retried frame)
    earlier, later = two_minutes_of_one_local_day(school.tzinfo)
    session_id = start_session(camera[1]).json()["session_id"]
    photo = read_face("scenes/obama_240p.jpg")
    post_frame(camera[1], session_id, 2, photo, captured_at=later)
    post_frame(camera[1], session_id, 1, photo, captured_at=earlier)
    # then Obama's day has two minutes observed in one session
    day = DailyRollup.objects.get(participant=obama)
    assert datetime.fromtimestamp(earlier, UTC) < datetime.fromtimestamp(later, UTC)
    assert (day.n, day.minutes_observed, day.sessions) == (2, 2, 1)
