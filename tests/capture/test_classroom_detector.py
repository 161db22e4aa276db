"""Classrooms run the CNN (rfb) detector by default, which observes back-row faces that the
legacy HOG choice misses; personal devices use rfb too; old settings migrate to rfb."""

from __future__ import annotations

from typing import Any

import cv2
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from capture.devices import create_device
from capture.models import ClassSession, Observation
from capture.processing import session_detector
from inference.classroom_scene import compose_classroom, crop_faces
from inference.detection import DETECTORS
from inference.image_io import decode_image
from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.actions import AuditContext, update_classroom
from wellbeing.models import Classroom, FaceDetector, Participant

pytestmark = pytest.mark.django_db


def back_row_jpeg() -> bytes:
    """12 faces of the enrolled Obama and Biden, 44-52 px wide, on a 1280x720 JPEG frame.

    HOG needs a ~70 px face box and finds none of them (docs/inference.md).
    """
    photos = [read_face(f"enroll/{who}/{n}.jpg") for who in ("obama", "biden") for n in (1, 2)]
    frame, _ = compose_classroom(
        crop_faces([decode_image(p) for p in photos]), 12, face_px=(44, 52)
    )
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(jpeg.tobytes())


def test_default_classroom_observes_back_rows_that_legacy_hog_misses(
    camera: Any, classroom: Classroom, obama: Participant, biden: Participant, redis_client: Any
) -> None:
    # given a running session of the 7B camera set to legacy HOG, and a back-row frame
    update_classroom(AuditContext.system(classroom.organization), classroom, detector="hog")
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    frame = back_row_jpeg()
    # when the frame is processed
    assert post_frame(token, session_id, 1, frame).status_code == 202
    # then no face is found, so nobody is observed
    session = ClassSession.objects.get(pk=session_id)
    assert (session.frames_processed, Observation.objects.count()) == (1, 0)
    # when the admin switches 7B back to the default (rfb) and the same frame comes again
    update_classroom(AuditContext.system(classroom.organization), classroom, detector="rfb")
    assert post_frame(token, session_id, 2, frame).status_code == 202
    # then, from the next frame on and without a worker restart, both students are observed
    observed = set(Observation.objects.values_list("participant_id", flat=True))
    assert observed == {obama.pk, biden.pk}
    session.refresh_from_db()
    # (12 faces of two people: one observation each, the other ten count as unknown)
    assert (session.frames_processed, session.unknown_faces) == (2, 10)


def test_personal_devices_use_the_cnn_detector_whatever_their_classroom(
    obama: Participant, classroom: Classroom, redis_client: Any
) -> None:
    # given Obama's own laptop, while his classroom is set to legacy HOG
    update_classroom(AuditContext.system(classroom.organization), classroom, detector="hog")
    _, token = create_device(AuditContext.system(obama.organization), "laptop", participant=obama)
    session_id = start_session(token).json()["session_id"]
    session = ClassSession.objects.get(pk=session_id)
    # when the worker picks the detector, then it is rfb
    assert session_detector(session) == "rfb"
    # and a back-row frame sent from the laptop finds its 12 faces: Obama observed once, the
    # others (his six copies beyond the first and Biden's six, who is not this device's
    # participant) count as unknown
    assert post_frame(token, session_id, 1, back_row_jpeg()).status_code == 202
    session.refresh_from_db()
    assert (session.frames_processed, session.unknown_faces) == (1, 11)
    assert list(Observation.objects.values_list("participant_id", flat=True)) == [obama.pk]


def test_every_classroom_choice_is_an_engine_detector() -> None:
    # given the choices admins see / then each names a backend the engine can create
    assert set(FaceDetector.values) <= set(DETECTORS)
    assert Classroom._meta.get_field("detector").default == FaceDetector.RFB
    assert FaceDetector.RFB.value == "rfb"


@pytest.mark.django_db(transaction=True)
def test_existing_classrooms_move_to_the_cnn_detector() -> None:
    # given the schema before migration 0006, with one classroom on each HOG setting
    executor = MigrationExecutor(connection)
    before = [("wellbeing", "0005_classroom_detector")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    school = apps.get_model("wellbeing", "Organization").objects.create(name="Old School")
    rooms = apps.get_model("wellbeing", "Classroom").objects
    for name, detector in (("A", "hog"), ("B", "hog2x")):
        rooms.create(organization=school, name=name, detector=detector)
    # when the migrations are applied
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    # then both classrooms run rfb, the only CNN choice
    detectors = Classroom.objects.filter(organization__name="Old School").values_list(
        "detector", flat=True
    )
    assert sorted(detectors) == ["rfb", "rfb"]
