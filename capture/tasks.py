"""Celery tasks of the capture app (routed to the ``inference`` queue by settings)."""

from __future__ import annotations

import contextlib
import logging
import random

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, close_old_connections, connection

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

    Database or Redis outages are retried with backoff; the frame's expiry in Redis is extended
    so it survives the wait. On delivery the expiry is extended to redelivery_window_s(): if
    this worker dies, the broker hands the task to another one after the visibility timeout,
    and the frame must still be there (a 202 promised it would be processed).
    """
    with contextlib.suppress(FrameStoreUnavailable):  # process_frame below meets it and retries
        get_frame_store().keep_frame_for(frame_id, redelivery_window_s())
    try:
        return process_frame(frame_id, session_id, device_id, captured_at)
    except (OperationalError, InterfaceError, FrameStoreUnavailable) as exc:
        connection.close()  # a broken connection must not be reused by the retry
        close_old_connections()
        delay = retry_delay(self.request.retries)
        log.warning("frame %s: %s, retry in %.1f s", frame_id, type(exc).__name__, delay)
        with contextlib.suppress(FrameStoreUnavailable):  # Redis down too: the retry will see
            get_frame_store().extend_frame(frame_id, FRAME_TTL_S + int(MAX_BACKOFF_S) * 2)
        raise self.retry(exc=exc, countdown=delay) from exc
