"""Live class view over WebSocket: who may subscribe, and what a pushed summary contains."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from tests.capture.conftest import post_frame, read_face, start_session
from wellbeing.models import Classroom, StaffMember
from wellbeing.websocket_routes import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user: Any, session_id: int) -> tuple[WebsocketCommunicator, bool]:
    app = URLRouter(websocket_urlpatterns)
    communicator = WebsocketCommunicator(app, f"/ws/sessions/{session_id}/live/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    return communicator, connected


def test_class_teacher_receives_class_level_summaries(
    teacher: StaffMember, camera: Any, obama: Any, biden: Any
) -> None:
    token = camera[1]
    session_id = int(start_session(token).json()["session_id"])

    async def scenario() -> dict[str, Any]:
        # given the class teacher is subscribed
        communicator, connected = await connect(teacher.user, session_id)
        assert connected
        # when a frame is processed
        from asgiref.sync import sync_to_async

        await sync_to_async(post_frame)(token, session_id, 1, read_face("scenes/obama+biden.jpg"))
        message: dict[str, Any] = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    # then the summary has class-level counts only (2 recognised < group size 5: suppressed)
    assert message["faces_seen"] == 3 and message["recognised"] == 2
    assert message["suppressed"] is True and message["emotions"] is None
    assert not {"participant", "pseudonym", "identity"} & set(message)


def test_teacher_of_another_class_is_refused(
    teacher: StaffMember, camera: Any, school: Any
) -> None:
    from tests.factories import make_staff
    from wellbeing.models import Role

    other_teacher = make_staff(school, Role.TEACHER, "other_teacher")
    Classroom.objects.create(organization=school, name="9A").teachers.add(other_teacher)
    session_id = int(start_session(camera[1]).json()["session_id"])

    async def scenario() -> bool:
        communicator, connected = await connect(other_teacher.user, session_id)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_other_school_is_refused(other_admin: StaffMember, camera: Any) -> None:
    session_id = int(start_session(camera[1]).json()["session_id"])

    async def scenario() -> bool:
        communicator, connected = await connect(other_admin.user, session_id)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False
