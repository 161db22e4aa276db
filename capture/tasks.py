"""Celery tasks of the capture app (routed to the ``inference`` queue by settings)."""

from __future__ import annotations

import contextlib
import logging
import random
import time

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from capture.fair_scheduling import PendingFrame, get_turn_scheduler
from capture.frame_store import (
    FRAME_TTL_S,
    FrameStoreUnavailable,
    get_frame_store,
    redelivery_window_s,
)
from capture.processing import process_frame

log = logging.getLogger(__name__)

MAX_RETRIES = 10
MAX_BACKOFF_S = 30.0


def retry_delay(retries: int) -> float:
    """Exponential backoff with jitter: ~1, 2, 4 ... capped at MAX_BACKOFF_S seconds."""
    return min(2.0**retries, MAX_BACKOFF_S) * random.uniform(0.5, 1.0)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def process_frame_task(
    self: Task, frame_id: str, session_id: int, device_id: int | None, captured_at: float
) -> str:
    """Analyse and store one frame (capture.processing.process_frame); idempotent.

    Queued by ingest when fair scheduling is off (FIFO); see process_with_retries.
    """
    return process_with_retries(self, PendingFrame(frame_id, session_id, device_id, captured_at))


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def process_next_frame_task(self: Task, queue: str) -> str:
    """One turn on ``queue``: process the frame whose turn it is (capture.fair_scheduling).

    A redelivered or retried turn keeps its task id and so its claim: it processes the same
    frame again (stored at most once). "idle" when nothing waits (its entry went with Redis).
    """
    scheduler, task_id = get_turn_scheduler(), str(self.request.id)
    try:
        frame = scheduler.claim_next_frame(queue, task_id)
    except FrameStoreUnavailable as exc:
        delay = retry_delay(self.request.retries)
        log.warning("turn on %s: %s, retry in %.1f s", queue, type(exc).__name__, delay)
        raise self.retry(exc=exc, countdown=delay) from exc
    if frame is None:
        return "idle"
    started = time.monotonic()
    outcome = process_with_retries(self, frame)
    with contextlib.suppress(FrameStoreUnavailable):  # the claim expires by itself
        scheduler.record_cost(queue, frame, time.monotonic() - started)
        scheduler.release_claim(task_id)
    return outcome


def process_with_retries(task: Task, frame: PendingFrame) -> str:
    """Process ``frame``; database or Redis outages are retried with backoff (``task.retry``).

    The frame's expiry in Redis is extended so it survives the wait. On delivery the expiry is
    extended to redelivery_window_s(): if this worker dies, the broker hands the task to another
    one after the visibility timeout, and the frame must still be there (a 202 promised it
    would be processed).
    """
    frame_id = frame.frame_id
    with contextlib.suppress(FrameStoreUnavailable):  # process_frame below meets it and retries
        get_frame_store().keep_frame_for(frame_id, redelivery_window_s())
    try:
        return process_frame(frame_id, frame.session_id, frame.device_id, frame.captured_at)
    except (OperationalError, InterfaceError, FrameStoreUnavailable) as exc:
        connection.close()  # a broken connection must not be reused by the retry
        close_old_connections()
        delay = retry_delay(task.request.retries)
        log.warning("frame %s: %s, retry in %.1f s", frame_id, type(exc).__name__, delay)
        with contextlib.suppress(FrameStoreUnavailable):  # Redis down too: the retry will see
            get_frame_store().extend_frame(frame_id, FRAME_TTL_S + int(MAX_BACKOFF_S) * 2)
        raise task.retry(exc=exc, countdown=delay) from exc
