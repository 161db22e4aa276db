"""The student page says "present, not assessable" per lesson when the camera recognised the
student but their face was too small for an expression, and never shows those lessons as
absence nor counts them as emotion data."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.urls import reverse

from capture.models import ClassSession, PresenceTally
from tests.conftest import login
from tests.time_series import add_minutes, add_rollup, make_session, probs
from wellbeing.models import Classroom, Participant, StaffMember

MARCH = "?start=2026-03-01&end=2026-03-31"
HELP = b"face was too small in the image"


def present_not_assessable(
    student: Participant, session: ClassSession, start: dt.datetime, frames: int
) -> PresenceTally:
    """``frames`` back-row frames over the 40 minutes from ``start``."""
    return PresenceTally.objects.create(
        organization_id=student.organization_id,
        participant=student,
        session=session,
        first_seen=start,
        last_seen=start + dt.timedelta(minutes=40),
        frames_not_assessable=frames,
    )


@pytest.fixture
def back_row_student(student: Participant, classroom: Classroom) -> Participant:
    """Observed for 30 minutes of Maths (and 5 back-row frames there); in History, only ever in
    the back row: 42 frames recognised, none assessable."""
    maths_start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    maths = make_session(classroom, maths_start, title="Maths")
    add_minutes(student, maths, maths_start, 30, probs(happy=0.6))
    add_rollup(student, maths_start.date(), probs(happy=0.6), n=180)
    present_not_assessable(student, maths, maths_start, 5)
    history_start = dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)
    history = make_session(classroom, history_start, title="History")
    present_not_assessable(student, history, history_start, 42)
    return student


def chart_data(html: bytes) -> dict[str, object]:
    block = re.search(
        rb'<script id="student-chart-data" type="application/json">(.*?)</script>', html
    )
    assert block is not None
    data: dict[str, object] = json.loads(block.group(1))
    return data


def test_each_lesson_says_present_not_assessable_with_its_frames(
    counselor: StaffMember, back_row_student: Participant
) -> None:
    # when the counselor opens the student's page for March
    response = login(counselor).get(
        reverse("dashboard:student", args=[back_row_student.pk]) + MARCH
    )
    html = response.content
    # then both lessons are listed, each with its frames, and the label is explained
    rows = re.findall(rb"<tr><td>7B</td><td>(\w+)</td>.*?</tr>", html)
    assert rows == [b"History", b"Maths"]
    assert b"present, not assessable: 42 frames" in html
    assert b"present, not assessable: 5 frames" in html
    assert HELP in html and b'aria-describedby="not-assessable-help"' in html
    # and History, with no observation, reads as present (no minutes), not as absent
    history = re.search(rb"<tr><td>7B</td><td>History</td>.*?</tr>", html)
    assert history is not None and b'<span class="muted">none</span>' in history.group(0)
    # and the summary counts it: one lesson observed, two with such frames, one only that
    assert b"1 class session with observations in this range" in html
    assert b"present, not assessable in 2 sessions (47 frames), 1 of them without any" in html


def test_not_assessable_frames_stay_out_of_the_charts(
    counselor: StaffMember, back_row_student: Participant
) -> None:
    # when the counselor opens the page
    response = login(counselor).get(
        reverse("dashboard:student", args=[back_row_student.pk]) + MARCH
    )
    # then the charts hold only the observed day (3 March has no expression data)
    data = chart_data(response.content)
    timeline = data["timeline"]
    assert isinstance(timeline, dict)
    assert timeline["series"]["happy"][1] == 60.0
    assert timeline["series"]["happy"][2] is None
    # and the timeline says which frames it leaves out, and why
    assert b"Not included: 47 frames in which the student was present but not assessable" in (
        response.content
    )


def test_a_student_always_assessed_shows_no_such_label(
    counselor: StaffMember, student: Participant, classroom: Classroom
) -> None:
    # given a student observed in one lesson and never too small
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    maths = make_session(classroom, start, title="Maths")
    add_minutes(student, maths, start, 30, probs())
    add_rollup(student, dt.date(2026, 3, 2), probs(), n=180)
    # when the counselor opens the page
    response = login(counselor).get(reverse("dashboard:student", args=[student.pk]) + MARCH)
    # then neither the column nor the explanation appear
    assert b"present, not assessable" not in response.content.lower()
    assert HELP not in response.content
