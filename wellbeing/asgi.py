"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by daphne)."""

from __future__ import annotations

import os

from django.conf import settings

from wellbeing.asgi_handler import get_pooled_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wellbeing.settings")
# Django must be set up before importing anything that touches models.
django_asgi_app = get_pooled_asgi_application(settings.WEB_SYNC_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from wellbeing.web_server import keep_request_bodies_in_memory  # noqa: E402
from wellbeing.websocket_routes import websocket_urlpatterns  # noqa: E402
from wellbeing.websocket_two_factor import TwoFactorWebSocketMiddleware  # noqa: E402

# daphne would otherwise put request bodies of 100 KB or more in temporary files.
keep_request_bodies_in_memory()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Every WebSocket route behind the pages' two-factor gate (after the session and user).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TwoFactorWebSocketMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
