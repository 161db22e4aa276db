"""WebSocket routes of all apps, collected in one list for the ASGI router."""

from __future__ import annotations

from typing import Any

# Apps append their consumers' routes here (the live class view adds its route).
websocket_urlpatterns: list[Any] = []
