"""WebSocket consumer of the live class view: ws/sessions/<id>/live/.

Staff of the session's organization may subscribe; teachers only to their classrooms' sessions;
a personal-device session only by staff who may see that participant. The pushed payload is the
class-level summary built by capture.live (no per-student data).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from capture.live import session_group
from capture.models import ClassSession


def may_watch_session(user: Any, session_id: int) -> bool:
    """Whether the user may see the live summary of the session (the REST rules)."""
    return ClassSession.objects.visible_to(user).filter(pk=session_id).exists()


class LiveSessionConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        allowed = await database_sync_to_async(may_watch_session)(self.scope["user"], session_id)
        if not allowed:
            await self.close(code=4403)
            return
        self.group = session_group(session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The view only listens; anything sent by the browser is ignored."""

    async def session_summary(self, event: dict[str, Any]) -> None:
        await self.send_json(event["summary"])
