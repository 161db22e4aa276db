"""Which Celery queue a frame's task goes to: the shared ``inference`` queue, or a session shard.

``INFERENCE_SHARDS = 0`` (default): every frame goes to ``inference``, consumed by any worker
process, so consecutive frames of a session may land in different processes (each with its own
tracker). ``INFERENCE_SHARDS = N > 0``: a session's frames go to ``inference.<session id mod N>``;
each shard queue is consumed by exactly one concurrency-1 worker process, so one process sees all
of a session's frames, in order (a retried frame comes back after later ones, as today).
The worker side needs no setting: it consumes the queues named by ``-Q``.
"""

from __future__ import annotations

import math

from django.conf import settings

from capture.frame_store import INFERENCE_QUEUE


def inference_shards() -> int:
    """Number of shard queues; 0 = the single ``inference`` queue."""
    return max(0, int(getattr(settings, "INFERENCE_SHARDS", 0)))


def shard_queue(shard: int) -> str:
    return f"{INFERENCE_QUEUE}.{shard}"


def inference_queue(session_id: int) -> str:
    """The queue of every frame of ``session_id`` (stable for a given INFERENCE_SHARDS)."""
    shards = inference_shards()
    return shard_queue(session_id % shards) if shards else INFERENCE_QUEUE


def queue_limit(max_queue: int) -> int:
    """Backpressure bound of one queue: the total bound split over the shards.

    Per queue so that a stalled shard refuses only its own sessions' frames (their devices buffer
    and retry) instead of filling the bound for every session.
    """
    shards = inference_shards()
    return math.ceil(max_queue / shards) if shards else max_queue
