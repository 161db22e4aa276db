"""The demo loop of `make demo`: seed the demo school, stream the shared scenes to a live
server with the real capture client, and see observations only for consented participants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db.models import Count

from capture.demo import demo_device_token, seed_demo_school
from capture.demo_stream import demo_sources, stream_classroom, stream_demo, wait_for_server
from capture.models import ClassSession, Observation, SessionStatus
from tests.capture.conftest import require_faces
from wellbeing.models import Participant


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_stream_attributes_faces_to_demo_participants(
    live_server: Any, tmp_path: Path, settings: Any
) -> None:
    faces = require_faces()
    settings.DATA_DIR = tmp_path
    # given the demo school, seeded from the shared photos
    summary = seed_demo_school(faces)
    assert len(summary.enrolled) == 5
    # when the demo stream sends the scene photos (not the video, to keep the test short)
    scenes_only = tmp_path / "faces"
    (scenes_only / "scenes").mkdir(parents=True)
    for photo in (faces / "scenes").iterdir():
        (scenes_only / "scenes" / photo.name).symlink_to(photo)
    assert wait_for_server(live_server.url, 10)
    assert stream_demo(live_server.url, scenes_only) == 0
    # then observations were stored, all of them for demo participants
    names = set(Observation.objects.values_list("participant__full_name", flat=True).distinct())
    assert {"Obama", "Biden", "Kit Harington", "Rose Leslie"} <= names
    assert names <= set(Participant.objects.values_list("full_name", flat=True))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_live_demo_loop_recognises_all_five_photo_people_in_one_session(
    live_server: Any, tmp_path: Path, settings: Any
) -> None:
    faces = require_faces()
    settings.DATA_DIR = tmp_path
    # given the demo school, seeded from the shared photos
    seed_demo_school(faces)
    # when the live loop of `make demo` streams its class photos for a few seconds
    stats = stream_classroom(live_server.url, faces, fps=1.0, stop_after_s=4)
    # then it sent frames into one session of the demo classroom and ended that session
    assert stats.acked >= 2 and stats.rejected == 0
    (session,) = ClassSession.objects.all()
    assert session.status == SessionStatus.ENDED
    assert session.classroom is not None and session.classroom.name == "Year 9 Drama"
    # and each frame had at least three of them recognised (the live numbers show from three),
    # all five photo people over the frames
    frames = Observation.objects.filter(session=session).values("frame_id")
    per_frame = frames.annotate(people=Count("participant", distinct=True))
    assert len(per_frame) >= 2 and min(f["people"] for f in per_frame) >= 3
    names = set(Observation.objects.values_list("participant__full_name", flat=True))
    assert names == {"Obama", "Biden", "Kit Harington", "Rose Leslie", "Alex Lacamoire"}


def test_demo_token_survives_a_lost_token_file(db: Any, tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path
    seed_demo_school(tmp_path / "no-photos")
    first = demo_device_token()
    (tmp_path / "demo-device.token").unlink()
    second = demo_device_token()  # rotated, since the first was lost
    assert first != second and demo_device_token() == second


def test_demo_sources_are_empty_without_shared_data(tmp_path: Path) -> None:
    assert demo_sources(tmp_path) == []
