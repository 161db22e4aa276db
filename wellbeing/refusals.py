"""Refusals: an action declined the request and changed nothing.

Every domain action refuses through a subclass of :class:`Refused`, whose message is the reason
in plain words, fit to show the person who asked. How the answer looks over HTTP is decided
once, from the class (``code``, ``status``, ``extra_fields``): wellbeing.api.refusals for the
API, the page views show the message. This module imports nothing of the apps, so every app may
use it without an import cycle.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Refused(Exception):
    """The action refused the request; nothing changed. ``str(exc)`` says why, in plain words.

    Subclasses set ``code`` (the API's machine code) and ``status`` (its HTTP status, 400 unless
    the refusal means something else).
    """

    code: ClassVar[str] = "refused"
    status: ClassVar[int] = 400

    def extra_fields(self) -> dict[str, Any]:
        """Fields the API adds to its error body beside ``error`` and ``detail`` (none here)."""
        return {}


class NotYours(Refused):
    """The object belongs to another school (or another counselor's caseload).

    Answered as a plain 404 "Not found.", never 403, so that the answer does not confirm the
    object exists; the message is for logs and tests, not for the caller.
    """

    code = "not_found"
    status = 404


class NotConfigured(Refused):
    """The server lacks something the action needs (a key, the face engine): 503."""

    code = "not_configured"
    status = 503
