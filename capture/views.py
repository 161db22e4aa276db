"""Ingest endpoints for capture devices: plain, fast Django views (logic in capture.ingest).

Every answer is JSON ``{"error": code, "detail": message}`` on refusal; nothing here ever
answers 500: database or Redis trouble is a 503 with Retry-After.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from capture.errors import (
    BadFrameHeadersError,
    FrameTooLargeError,
    IngestError,
    ServiceUnavailableError,
)
from capture.ingest import (
    admit_frame,
    check_content_length,
    check_frame_bytes,
    device_from_authorization,
    frame_statuses,
    parse_frame_headers,
    parse_status_query,
)
from capture.sessions import end_session, start_session

log = logging.getLogger(__name__)

View = Callable[..., JsonResponse]


def error_response(exc: IngestError) -> JsonResponse:
    response = JsonResponse({"error": exc.code, "detail": str(exc)}, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def ingest_endpoint(view: View) -> View:
    """POST only, no CSRF (token auth), IngestError -> its status, outages -> 503."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except IngestError as exc:
            return error_response(exc)
        except DatabaseError as exc:
            log.warning("ingest: database unavailable (%s)", type(exc).__name__)
            return error_response(ServiceUnavailableError("The database is unavailable."))
        except Exception as exc:  # never a 500 to a device; the frame is not logged
            log.exception("ingest: unexpected %s", type(exc).__name__)
            return error_response(ServiceUnavailableError("Temporary server error; retry."))

    return wrapper


def json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except RecursionError:
        raise BadFrameHeadersError("The request body is JSON nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadFrameHeadersError("The request body must be JSON.") from exc
    if not isinstance(body, dict):
        raise BadFrameHeadersError("The request body must be a JSON object.")
    if any(isinstance(v, str) and "\x00" in v for v in body.values()):
        raise BadFrameHeadersError("A text field of the request contains a NUL byte.")
    return body


@ingest_endpoint
def start_session_view(request: HttpRequest) -> JsonResponse:
    """Start a session (or join ``{"session_id": n}``); returns id and transparency notice."""
    device = device_from_authorization(request.headers.get("Authorization", ""))
    body = json_body(request)
    session_id = body.get("session_id")
    if session_id is not None and (not isinstance(session_id, int) or isinstance(session_id, bool)):
        raise BadFrameHeadersError("session_id must be an integer.")
    title = body.get("title", "")
    session = start_session(device, session_id, title if isinstance(title, str) else "")
    return JsonResponse(
        {
            "session_id": session.pk,
            "status": session.status,
            "transparency_notice": device.organization.transparency_notice,
        },
        status=201 if session_id is None else 200,
    )


@ingest_endpoint
def end_session_view(request: HttpRequest, session_id: int) -> JsonResponse:
    device = device_from_authorization(request.headers.get("Authorization", ""))
    session = end_session(device, session_id)
    return JsonResponse({"session_id": session.pk, "status": session.status})


@ingest_endpoint
def ingest_frame_view(request: HttpRequest) -> JsonResponse:
    """One raw JPEG/PNG frame; 202 queued, 200 already received (see capture.ingest)."""
    device = device_from_authorization(request.headers.get("Authorization", ""))
    content_type = request.headers.get("Content-Type", "")
    check_content_length(
        content_type,
        request.headers.get("Content-Length"),
        request.headers.get("Transfer-Encoding"),
    )
    headers = parse_frame_headers(
        request.headers.get("X-Session-Id", ""),
        request.headers.get("X-Sequence", ""),
        request.headers.get("X-Captured-At", ""),
    )
    try:
        data = request.body
    except RequestDataTooBig as exc:
        raise FrameTooLargeError("The frame is larger than the server accepts.") from exc
    check_frame_bytes(content_type, data)
    admission = admit_frame(device, headers, data)
    if admission.status == "duplicate":
        return JsonResponse({"frame_id": admission.frame_id, "status": "already received"})
    return JsonResponse({"frame_id": admission.frame_id, "status": "queued"}, status=202)


@ingest_endpoint
def frame_status_view(request: HttpRequest) -> JsonResponse:
    """``{"sequences": [...]}`` of this device's acknowledged frames -> which are processed,
    pending or lost (the client re-sends the lost ones; see capture.ingest.frame_statuses)."""
    device = device_from_authorization(request.headers.get("Authorization", ""))
    statuses = frame_statuses(device, parse_status_query(request.body))
    return JsonResponse(asdict(statuses))
