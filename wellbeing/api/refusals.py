"""Turning an action's refusal into an API error in the shape of wellbeing.api_errors.

The one mapping from :class:`wellbeing.refusals.Refused` to HTTP: the refusal's class gives the
status and machine code, its message the detail. Objects of another school (NotYours) surface as
a bare 404, never 403, so the API does not confirm they exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound

from wellbeing.refusals import NotYours, Refused


class ActionRefused(APIException):
    """An action's refusal as an API error: its status, code and plain-words reason, plus the
    refusal's extra fields (wellbeing.api_errors puts them into the body)."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "refused"
    default_detail = "The request was refused."

    def __init__(self, refusal: Refused) -> None:
        super().__init__(str(refusal), refusal.code)
        self.status_code = refusal.status
        self.default_code = refusal.code
        self.extra = refusal.extra_fields()


def refusal_as_http(refusal: Refused) -> APIException:
    """The API error answering ``refusal`` (NotYours: a bare 404 that names nothing)."""
    if isinstance(refusal, NotYours):
        return NotFound()
    return ActionRefused(refusal)


@contextmanager
def refusals_as_http() -> Iterator[None]:
    """Answer a Refused raised inside the block as its API error (see refusal_as_http).

    Any other exception passes through: an unexpected ValueError is a bug and stays a 500.
    wellbeing.api_errors maps refusals the same way, so this marks intent at the call site.
    """
    try:
        yield
    except Refused as exc:
        raise refusal_as_http(exc) from exc


class SchoolObjectMixin:
    """For viewsets: a missing object (unknown id, malformed id, another school's id) is one
    ``{"error": "not_found", "detail": "Not found."}``, whichever the cause."""

    def get_object(self) -> Any:
        try:
            return super().get_object()  # type: ignore[misc]
        except Http404 as exc:
            raise NotFound() from exc
