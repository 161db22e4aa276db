"""WebSocket routes of all apps, collected in one list for the ASGI router."""

from __future__ import annotations

from typing import Any

from django.urls import path

from capture.consumers import LiveSessionConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/sessions/<int:session_id>/live/", LiveSessionConsumer.as_asgi()),
]
