"""Devices and class sessions became capture's models (issue 14) on an existing database: the
migrations move them in Django's state only, so every row, token and foreign key stays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from capture.devices import authenticate_device, hash_token
from capture.models import CaptureDevice, ClassSession, Observation, ProcessedFrame, SessionStatus
from wellbeing.models import Participant

BEFORE = [
    ("capture", "0006_presence_tally"),
    ("wellbeing", "0012_two_factor_policy_backup_codes"),
    ("contenttypes", "0002_remove_content_type_name"),
]
MOVED = ("capturedevice", "classsession")
OLD_TOKEN = "wbd_issued-before-the-move"
AT = dt.datetime(2026, 9, 14, 9, 30, tzinfo=dt.UTC)


def _table_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (a constant table name)
        count: int = cursor.fetchone()[0]
    return count


@pytest.mark.django_db(transaction=True)
def test_devices_and_sessions_keep_their_rows_tables_and_content_types() -> None:
    # given a database from before the move: a camera with a token, a student's own laptop,
    # a running session of the camera with a stored frame and an observation
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    old = {name: apps.get_model("wellbeing", name) for name in ("Organization", "Classroom")}
    school = old["Organization"].objects.create(name="Old School", slug="old-school")
    room = old["Classroom"].objects.create(organization=school, name="7B")
    kid = apps.get_model("wellbeing", "Participant").objects.create(
        organization=school, full_name="Old Kid", pseudonym="P-OLDKID02"
    )
    devices = apps.get_model("wellbeing", "CaptureDevice").objects
    camera = devices.create(
        organization=school, name="7B camera", classroom=room,
        token_prefix=OLD_TOKEN[:8], token_hash=hash_token(OLD_TOKEN),
    )  # fmt: skip
    laptop = devices.create(
        organization=school, name="Kid's laptop", participant=kid,
        token_prefix="wbd_lapt", token_hash=hash_token("wbd_laptop"), revoked_at=AT,
    )  # fmt: skip
    session = apps.get_model("wellbeing", "ClassSession").objects.create(
        classroom=room, device=camera, status="running", started_at=AT, frames_processed=1
    )
    apps.get_model("capture", "ProcessedFrame").objects.create(
        frame_id=f"{camera.pk}:1", session=session, captured_at=AT, faces=1, recognised=1
    )
    apps.get_model("capture", "Observation").objects.create(
        organization=school, participant=kid, session=session, frame_id=f"{camera.pk}:1",
        captured_at=AT, p_angry=0, p_disgust=0, p_fear=0, p_happy=0.9, p_neutral=0.1, p_sad=0,
        p_surprise=0, emotion="happy", quality=0.8,
    )  # fmt: skip
    # ...whose content types are the wellbeing app's (an operator's permissions point at them)
    types = apps.get_model("contenttypes", "ContentType").objects
    types.filter(app_label="capture", model__in=MOVED).delete()
    old_types = {m: types.get_or_create(app_label="wellbeing", model=m)[0].pk for m in MOVED}

    # when the migrations are applied
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()

    # then capture's models read the same rows from the same tables
    assert CaptureDevice._meta.db_table == "wellbeing_capturedevice"
    assert ClassSession._meta.db_table == "wellbeing_classsession"
    assert (_table_rows("wellbeing_capturedevice"), _table_rows("wellbeing_classsession")) == (2, 1)
    # and the camera's old token still signs it in, the revoked laptop's does not
    assert authenticate_device(OLD_TOKEN).pk == camera.pk
    assert CaptureDevice.objects.get(pk=laptop.pk).is_revoked
    assert CaptureDevice.objects.get(pk=laptop.pk).participant == Participant.objects.get(pk=kid.pk)
    # and the session keeps its device, status, frame and observation
    moved = ClassSession.objects.get(pk=session.pk)
    assert (moved.device_id, moved.status, moved.classroom_id) == (
        camera.pk, SessionStatus.RUNNING, room.pk,
    )  # fmt: skip
    assert ProcessedFrame.objects.get(session=moved).frame_id == f"{camera.pk}:1"
    assert Observation.objects.get(session=moved).emotion == "happy"
    assert list(CaptureDevice.objects.get(pk=camera.pk).sessions.all()) == [moved]
    # and the content types were renamed, not replaced (same ids, none left under wellbeing)
    assert ContentType.objects.get_for_model(CaptureDevice).pk == old_types["capturedevice"]
    assert ContentType.objects.get_for_model(ClassSession).pk == old_types["classsession"]
    assert not ContentType.objects.filter(app_label="wellbeing", model__in=MOVED).exists()
