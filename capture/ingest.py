"""Frame admission: check a frame cheaply, park its bytes in Redis and queue it for inference.

Everything here must stay fast (the ingest budget is well under 50 ms): the image is never
decoded, only its header is read (format, width x height) and its trailer checked. Bytes go to
the frame store (Redis, short expiry), never to PostgreSQL, the disk or the log.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError

from capture.devices import DeviceAuthError, authenticate_device
from capture.errors import (
    BadFrameError,
    BadFrameHeadersError,
    DeviceTokenError,
    FairShareError,
    FrameTooLargeError,
    LengthRequiredError,
    QueueFullError,
    RateLimitedError,
    ServiceUnavailableError,
    UnsupportedFrameTypeError,
)
from capture.fair_scheduling import FairShareExceeded, PendingFrame, get_fair_scheduler
from capture.frame_store import FrameStore, FrameStoreUnavailable, get_frame_store
from capture.models import CaptureDevice, ProcessedFrame
from capture.routing import inference_queue, queue_limit
from capture.sessions import check_capture_allowed, running_session
from inference.image_io import ImageDecodeError, check_complete, read_header_size

ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
DEFAULT_MAX_QUEUE = 200
# Frames older than this are refused: the client buffers for seconds, not hours.
MAX_FRAME_AGE_S = 3600
MAX_CLOCK_SKEW_S = 300
# One quick reconnect (e.g. after a Redis restart) and then a 503: ingest must stay fast.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


@dataclass(frozen=True)
class FrameHeaders:
    session_id: int
    sequence: int
    captured_at: float  # epoch seconds


@dataclass(frozen=True)
class Admission:
    frame_id: str
    status: Literal["queued", "duplicate"]


def device_from_authorization(header: str) -> CaptureDevice:
    """The device of an ``Authorization: Bearer <token>`` header; DeviceTokenError otherwise."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DeviceTokenError("Send the device token as 'Authorization: Bearer <token>'.")
    try:
        return authenticate_device(token.strip())
    except DeviceAuthError as exc:
        raise DeviceTokenError(str(exc)) from exc


def parse_frame_headers(session_id: str, sequence: str, captured_at: str) -> FrameHeaders:
    """Validate X-Session-Id, X-Sequence and X-Captured-At; BadFrameHeadersError says which."""
    try:
        sid, seq = int(session_id), int(sequence)
    except ValueError as exc:
        raise BadFrameHeadersError("X-Session-Id and X-Sequence must be integers.") from exc
    try:
        at = float(captured_at)
    except ValueError as exc:
        raise BadFrameHeadersError("X-Captured-At must be epoch seconds.") from exc
    now = time.time()
    if not math.isfinite(at) or not now - MAX_FRAME_AGE_S <= at <= now + MAX_CLOCK_SKEW_S:
        raise BadFrameHeadersError("X-Captured-At is not a recent time (check the device clock).")
    if sid <= 0 or not 0 <= seq < 2**62:
        raise BadFrameHeadersError("X-Session-Id must be positive and X-Sequence >= 0.")
    return FrameHeaders(sid, seq, at)


def check_content_length(
    content_type: str, content_length: str | None, transfer_encoding: str | None = None
) -> None:
    """Refuse an empty body, a chunked one, a wrong type or an oversized body before reading.

    Chunked bodies are refused (411): the size limit must be known before any byte is read,
    and the capture client always sends Content-Length.
    """
    if content_length in (None, "") and "chunked" in (transfer_encoding or "").lower():
        raise LengthRequiredError(
            "Send the frame with a Content-Length header; chunked uploads are not accepted."
        )
    if content_length in (None, "", "0"):
        raise BadFrameError("The frame is empty.")
    if content_type.split(";")[0].strip().lower() not in ACCEPTED_TYPES:
        raise UnsupportedFrameTypeError("Send the frame as image/jpeg or image/png.")
    try:
        length = int(content_length or 0)
    except ValueError as exc:
        raise BadFrameHeadersError("Content-Length is not a number.") from exc
    if length > settings.MAX_UPLOAD_BYTES:
        raise FrameTooLargeError(
            f"Frame has {length} bytes; the limit is {settings.MAX_UPLOAD_BYTES}."
        )


def check_frame_bytes(content_type: str, data: bytes) -> None:
    """Header-only checks: declared type, byte and pixel limits, complete trailer."""
    if not data:
        raise BadFrameError("The frame is empty.")
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise FrameTooLargeError(
            f"Frame has {len(data)} bytes; the limit is {settings.MAX_UPLOAD_BYTES}."
        )
    try:
        fmt, width, height = read_header_size(data)
        if fmt != ACCEPTED_TYPES[content_type.split(";")[0].strip().lower()]:
            raise BadFrameError(f"The body is {fmt}, not {content_type}.")
        check_complete(fmt, data)
    except ImageDecodeError as exc:
        raise BadFrameError(str(exc)) from exc
    if width * height > settings.FRAME_MAX_PIXELS:
        raise BadFrameError(
            f"Frame is {width}x{height} = {width * height} pixels; the limit is "
            f"{settings.FRAME_MAX_PIXELS} pixels ({describe_pixels(settings.FRAME_MAX_PIXELS)}). "
            "Send frames at the camera's resolution, 1920x1080 is plenty."
        )


def describe_pixels(limit: int) -> str:
    """ "3840x2160" for the default limit, else "about N megapixels"."""
    return "3840x2160" if limit == 3840 * 2160 else f"about {limit / 1e6:.1f} megapixels"


def admit_frame(device: CaptureDevice, headers: FrameHeaders, data: bytes) -> Admission:
    """Queue a checked frame once. Raises QueueFullError (429) or ServiceUnavailableError (503).

    Side effects: bytes in the frame store under the frame id, and the frame scheduled on the
    session's inference queue (capture.routing): its entry in the fair scheduler's pending lists
    plus one turn task, or (FAIR_SCHEDULING off, no Redis) one process_frame_task. Raises
    FairShareError (429) when the device or its school has its share of frames waiting. A frame
    already queued answers "duplicate" and queues nothing, unless it was lost (frame_was_lost):
    then it is queued again, and the worker's ProcessedFrame check still stores it at most once.
    """
    check_capture_allowed(device)
    session = running_session(device, headers.session_id)
    started = session.started_at
    if started is not None and headers.captured_at < started.timestamp() - MAX_CLOCK_SKEW_S:
        raise BadFrameHeadersError(
            "X-Captured-At is before the session started (check the device clock)."
        )
    frame_id = f"{device.pk}:{headers.sequence}"
    store = get_frame_store()
    try:
        if store.was_queued(frame_id) and not frame_was_lost(store, frame_id):
            return Admission(frame_id, "duplicate")
        if store.count_upload(device.pk) > settings.INGEST_MAX_FPS_PER_DEVICE:
            raise RateLimitedError(
                f"More than {settings.INGEST_MAX_FPS_PER_DEVICE} frames per second from this "
                "device; slow down."
            )
        queue = inference_queue(session.pk)
        limit = queue_limit(getattr(settings, "INGEST_MAX_QUEUE", DEFAULT_MAX_QUEUE))
        if store.queue_length(queue) >= limit:
            raise QueueFullError(f"The inference queue is full ({limit} frames); retry shortly.")
        store.put_frame(frame_id, data)
        pending = PendingFrame(
            frame_id, session.pk, device.pk, headers.captured_at, device.organization_id
        )
        schedule_frame(store, pending, queue)
        # Marked after queueing: a crash in between only costs a second (idempotent) run.
        store.mark_queued(frame_id)
    except FrameStoreUnavailable as exc:
        raise ServiceUnavailableError("The frame queue is unavailable; retry shortly.") from exc
    return Admission(frame_id, "queued")


def schedule_frame(store: FrameStore, frame: PendingFrame, queue: str) -> None:
    """Queue ``frame`` fairly (capture.fair_scheduling) or, with fair scheduling off, FIFO."""
    scheduler = get_fair_scheduler()
    if scheduler is None:
        enqueue_frame(frame.frame_id, frame.session_id, frame.device_id, frame.captured_at, queue)
        return
    try:
        scheduler.add_frame(queue, frame)
    except FairShareExceeded as exc:
        store.delete_frame(frame.frame_id)  # refused: its bytes must not wait for nothing
        raise FairShareError(
            f"{exc.scope.capitalize()} already has {exc.limit} frames waiting for analysis; "
            "retry shortly (other schools' frames go first meanwhile)."
        ) from exc
    enqueue_turn(queue)


def enqueue_turn(queue: str) -> None:
    """One turn on ``queue``: the worker that runs it takes the frame whose turn it is."""
    from capture.tasks import process_next_frame_task

    try:
        process_next_frame_task.apply_async(
            args=(queue,), queue=queue, retry=True, retry_policy=PUBLISH_RETRY
        )
    except (KombuOperationalError, OSError) as exc:
        raise FrameStoreUnavailable(f"broker unavailable: {type(exc).__name__}") from exc


def enqueue_frame(
    frame_id: str, session_id: int, device_id: int | None, captured_at: float, queue: str
) -> None:
    from capture.tasks import process_frame_task

    try:
        process_frame_task.apply_async(
            args=(frame_id, session_id, device_id, captured_at),
            queue=queue,
            retry=True,
            retry_policy=PUBLISH_RETRY,
        )
    except (KombuOperationalError, OSError) as exc:
        raise FrameStoreUnavailable(f"broker unavailable: {type(exc).__name__}") from exc


# A client asks about at most this many acknowledged frames at a time.
MAX_STATUS_SEQUENCES = 500


@dataclass(frozen=True)
class FrameStatuses:
    """Sequences of one device's acknowledged frames, by where they are now."""

    processed: list[int]  # analysed and stored once (or found to hold no consented face)
    pending: list[int]  # bytes still wait in the frame store for a worker
    lost: list[int]  # neither: gone with a Redis restart or expired in a backlog; re-send


def frame_was_lost(store: FrameStore, frame_id: str) -> bool:
    """Acknowledged once, but its bytes are gone and no worker stored it (one Redis call; a
    query only when the bytes are gone)."""
    if store.has_frame(frame_id):
        return False
    return not ProcessedFrame.objects.filter(frame_id=frame_id).exists()


def frame_statuses(device: CaptureDevice, sequences: list[int]) -> FrameStatuses:
    """Where each of the device's frames ``sequences`` is; the client re-sends the lost ones.

    Reads only (one query, one Redis call per frame not yet processed). Raises
    ServiceUnavailableError (503) when Redis does not answer.
    """
    ids = {sequence: f"{device.pk}:{sequence}" for sequence in sequences}
    done = set(
        ProcessedFrame.objects.filter(frame_id__in=ids.values()).values_list("frame_id", flat=True)
    )
    store = get_frame_store()
    statuses = FrameStatuses([], [], [])
    try:
        for sequence, frame_id in ids.items():
            if frame_id in done:
                statuses.processed.append(sequence)
            else:
                (statuses.pending if store.has_frame(frame_id) else statuses.lost).append(sequence)
    except FrameStoreUnavailable as exc:
        raise ServiceUnavailableError("The frame queue is unavailable; retry shortly.") from exc
    return statuses


def parse_status_query(body: bytes) -> list[int]:
    """``{"sequences": [int, ...]}`` (1 to MAX_STATUS_SEQUENCES) or BadFrameHeadersError (400)."""
    try:
        sequences = json.loads(body or b"{}").get("sequences")
    except (ValueError, AttributeError, RecursionError) as exc:
        raise BadFrameHeadersError('Send JSON {"sequences": [...]}.') from exc
    if (
        not isinstance(sequences, list)
        or not 0 < len(sequences) <= MAX_STATUS_SEQUENCES
        or not all(type(s) is int and 0 <= s < 2**62 for s in sequences)
    ):
        raise BadFrameHeadersError(
            f'"sequences" must be a list of 1 to {MAX_STATUS_SEQUENCES} frame sequence numbers.'
        )
    return sequences
