"""Turning an action's refusal into an API error in the shape of wellbeing.api_errors.

Objects of another school surface as 404, never 403, so the API does not confirm they exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound

from consent.actions import ConsentError, EnrollmentError
from consent.template_crypto import TemplateKeyError


class ActionRefused(APIException):
    """400: the action refused the request; ``detail`` is its plain-words reason."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"
    default_detail = "The request was refused."


class ConsentRefused(ActionRefused):
    default_code = "consent_refused"


class EnrollmentRefused(ActionRefused):
    default_code = "enrollment_refused"


class NotConfigured(APIException):
    """503: the server lacks something the action needs (a key, the face engine)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "not_configured"
    default_detail = "This feature is not configured on the server."


@contextmanager
def refusals_as_http(*plain_refusals: type[Exception]) -> Iterator[None]:
    """Map ConsentError/EnrollmentError (and ``plain_refusals``) to 400, PermissionError to 404.

    Pass ``ValueError`` only around actions that document ValueError as a refusal (the device
    actions); elsewhere an unexpected ValueError is a bug and stays a 500.
    """
    try:
        yield
    except PermissionError as exc:
        raise NotFound() from exc
    except EnrollmentError as exc:
        raise EnrollmentRefused(str(exc)) from exc
    except ConsentError as exc:
        raise ConsentRefused(str(exc)) from exc
    except TemplateKeyError as exc:
        raise NotConfigured(str(exc)) from exc
    except plain_refusals as exc:
        raise ActionRefused(str(exc)) from exc


class SchoolObjectMixin:
    """For viewsets: a missing object (unknown id, malformed id, another school's id) is one
    ``{"error": "not_found", "detail": "Not found."}``, whichever the cause."""

    def get_object(self) -> Any:
        try:
            return super().get_object()  # type: ignore[misc]
        except Http404 as exc:
            raise NotFound() from exc
