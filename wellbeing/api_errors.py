"""One JSON error shape for the API: {"error": code, "detail": message, "fields": {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from wellbeing.api.refusals import refusal_as_http
from wellbeing.refusals import Refused


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Refused):  # an action refused without refusals_as_http around it
        exc = refusal_as_http(exc)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, TooManyFilesSent | RequestDataTooBig):
        exc = exceptions.ValidationError({"files": [str(exc) or "Too many files or too large."]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {
            "error": "invalid",
            "detail": "The request is not valid.",
            "fields": fields,
        }
    else:
        code = getattr(exc, "default_code", "error")
        detail = data.get("detail", str(exc)) if isinstance(data, dict) else str(exc)
        response.data = {"error": code, "detail": detail, **getattr(exc, "extra", {})}
    return response
