"""Two-factor for WebSockets: the gate of the pages, applied to every WebSocket route.

``TwoFactorRequiredMiddleware`` (wellbeing.middleware) runs for HTTP only; Channels serves
WebSockets (the live class view) without Django's middleware. ``TwoFactorWebSocketMiddleware``
sits in ``wellbeing.asgi`` between Channels' session and user middleware and the routes, so no
consumer is reached by a staff member whom the pages would send to the two-factor page:

* required by their school, past their grace period, no authenticator: closed with
  ``CLOSE_SET_UP`` (4428);
* an authenticator set up but this session did not use it: closed with ``CLOSE_VERIFY`` (4401).

The socket is accepted and then closed with the code, because a refused handshake reaches a
browser only as 1006 (daphne answers it with HTTP 403), and the live view must be able to tell
the person what to do instead of retrying. Nothing is sent before the close. Anonymous users and
users without a role pass on to the consumers, which refuse them themselves (4403).

The decision is the pages' own (``wellbeing.two_factor.gate_for``) with the session read as
django-otp's OTPMiddleware reads it (``session_store_verified``), when the socket opens; a
socket that is open keeps going, as a page already shown does.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.sessions.backends.base import SessionBase

from wellbeing.models import staff_of
from wellbeing.two_factor import Gate, gate_for, session_store_verified

CLOSE_SET_UP = 4428  # "Precondition Required": set up two-factor at /accounts/two-factor/
CLOSE_VERIFY = 4401  # "Unauthorized": confirm this session with a code at /accounts/two-factor/
CLOSE_CODES = {Gate.SET_UP: CLOSE_SET_UP, Gate.VERIFY: CLOSE_VERIFY}


def websocket_gate(user: Any, session: SessionBase | None) -> Gate:
    """What two-factor lets this WebSocket's signed-in user do (ALLOW for non-staff)."""
    if user is None or not user.is_authenticated:
        return Gate.ALLOW
    staff = staff_of(user)
    if staff is None:
        return Gate.ALLOW
    return gate_for(staff, session_verified=session_store_verified(user, session))


class TwoFactorWebSocketMiddleware(BaseMiddleware):
    """Closes a WebSocket whose staff session has not passed two-factor (module docstring);
    ASGI scopes other than ``websocket`` pass through."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        gate = await database_sync_to_async(websocket_gate)(scope.get("user"), scope.get("session"))
        if gate == Gate.ALLOW:
            return await super().__call__(scope, receive, send)
        await close_with(receive, send, CLOSE_CODES[gate])
        return None


async def close_with(receive: Any, send: Any, code: int) -> None:
    """Answer the WebSocket handshake, then close it at once with ``code``."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})
