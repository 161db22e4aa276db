"""Series and session-summary API: exact means from sums, role-based visibility, suppression."""

from __future__ import annotations

from typing import Any

import pytest

from capture.models import Observation
from tests.capture.conftest import post_frame, read_face, start_session
from tests.conftest import login
from wellbeing.models import AuditEvent, Participant, StaffMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_with_data(camera: Any, obama: Participant, biden: Participant) -> int:
    token = camera[1]
    session_id = int(start_session(token).json()["session_id"])
    for sequence in (1, 2):
        post_frame(token, session_id, sequence, read_face("scenes/obama+biden.jpg"))
    return session_id


def test_admin_reads_a_participants_minute_series(
    admin: StaffMember, obama: Participant, session_with_data: int
) -> None:
    # when the admin asks for Obama's minute series
    response = login(admin).get(f"/api/participants/{obama.pk}/series/?resolution=minute")
    # then the points' n add up to his observations and the means equal theirs
    assert response.status_code == 200
    points = response.json()["points"]
    observations = list(Observation.objects.filter(participant=obama))
    assert sum(p["n"] for p in points) == len(observations) == 2
    if len(points) == 1:
        expected = sum(o.p_happy for o in observations) / 2
        assert points[0]["mean"]["happy"] == pytest.approx(expected, abs=1e-4)
    # and the read is audited
    assert AuditEvent.objects.filter(action="participant.view", detail__section="series").exists()


@pytest.mark.parametrize("resolution", ["hour", "day"])
def test_coarser_resolutions_keep_the_count(
    admin: StaffMember, obama: Participant, session_with_data: int, resolution: str
) -> None:
    response = login(admin).get(f"/api/participants/{obama.pk}/series/?resolution={resolution}")
    assert response.status_code == 200
    assert sum(p["n"] for p in response.json()["points"]) == 2


def test_series_refuses_bad_ranges(admin: StaffMember, obama: Participant) -> None:
    client = login(admin)
    base = f"/api/participants/{obama.pk}/series/"
    assert client.get(base + "?resolution=second").status_code == 400
    assert client.get(base + "?from=2026-01-02T00:00Z&to=2026-01-01T00:00Z").status_code == 400
    assert client.get(base + "?from=2020-01-01T00:00Z&to=2026-01-01T00:00Z").status_code == 400


def test_teacher_and_other_school_cannot_read_a_series(
    teacher: StaffMember, other_admin: StaffMember, obama: Participant
) -> None:
    url = f"/api/participants/{obama.pk}/series/"
    assert login(teacher).get(url).status_code == 403
    assert login(other_admin).get(url).status_code == 404


def test_teacher_sees_the_class_summary_without_student_data(
    teacher: StaffMember, session_with_data: int
) -> None:
    # when the class teacher asks for the summary of a session with 2 recognised students
    response = login(teacher).get(f"/api/sessions/{session_with_data}/summary/")
    # then counts are there but, below the group size of 5, means are suppressed
    assert response.status_code == 200
    body = response.json()
    assert body["frames_processed"] == 2
    assert body["participants_observed"] == 2
    assert body["suppressed"] is True and body["totals"] is None
    assert "pseudonym" not in str(body) and "Obama" not in str(body)


def test_summary_shows_means_when_the_group_is_large_enough(
    admin: StaffMember, session_with_data: int, school: Any
) -> None:
    school.min_group_size = 2
    school.save()
    body = login(admin).get(f"/api/sessions/{session_with_data}/summary/").json()
    assert body["suppressed"] is False
    assert body["totals"]["n"] == 4


def test_other_school_cannot_see_the_session(
    other_admin: StaffMember, session_with_data: int
) -> None:
    assert login(other_admin).get(f"/api/sessions/{session_with_data}/summary/").status_code == 404
