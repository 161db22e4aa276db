"""Errors of the capture API. Each carries the HTTP status and a code the client can act on."""

from __future__ import annotations


class IngestError(Exception):
    """A request ingest refuses; ``status`` is the HTTP answer, the message says why."""

    status = 400
    code = "bad_request"
    retry_after: int | None = None


class DeviceTokenError(IngestError):
    status = 401
    code = "bad_token"


class CaptureBlockedError(IngestError):
    """The organization may not capture (jurisdiction gate)."""

    status = 403
    code = "capture_blocked"


class SessionNotFoundError(IngestError):
    status = 404
    code = "unknown_session"


class SessionStateError(IngestError):
    """The session is not running (ended, or not started yet)."""

    status = 409
    code = "session_not_running"


class BadFrameHeadersError(IngestError):
    code = "bad_headers"


class LengthRequiredError(IngestError):
    """A body sent without Content-Length (chunked): ingest needs the size before reading."""

    status = 411
    code = "length_required"


class UnsupportedFrameTypeError(IngestError):
    status = 415
    code = "unsupported_type"


class FrameTooLargeError(IngestError):
    status = 413
    code = "too_large"


class BadFrameError(IngestError):
    """The body is not a complete JPEG/PNG within the pixel limit."""

    status = 422
    code = "bad_image"


class QueueFullError(IngestError):
    """Backpressure: the inference queue is longer than settings.INGEST_MAX_QUEUE."""

    status = 429
    code = "queue_full"
    retry_after = 2


class FairShareError(IngestError):
    """The device (or its school) already has its share of frames waiting for a worker
    (capture.fair_scheduling); other schools' frames keep flowing."""

    status = 429
    code = "fair_share_exceeded"
    retry_after = 2


class RateLimitedError(IngestError):
    """One device sends more frames per second than settings.INGEST_MAX_FPS_PER_DEVICE."""

    status = 429
    code = "rate_limited"
    retry_after = 1


class ServiceUnavailableError(IngestError):
    """Redis (the frame store and broker) or the database does not answer."""

    status = 503
    code = "unavailable"
    retry_after = 2
