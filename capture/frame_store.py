"""Where frame bytes wait between ingest and the worker: Redis, with a short expiry.

Frames never touch PostgreSQL or the disk. With REDIS_URL set, the bytes live under
``wb:frame:<frame id>`` for FRAME_TTL_S seconds (the worker deletes them as soon as it is done;
on delivery it extends the expiry to ``redelivery_window_s()``, so that a task redelivered
after its worker died still finds its frame);
``wb:seen:<frame id>`` remembers that a frame was queued, so a re-sent frame is not queued twice
while its bytes still wait (a frame whose bytes are gone unprocessed, after a Redis restart or an
expiry in a backlog, is queued again: capture.ingest).
Without REDIS_URL (the embedded demo, Celery eager) a process-local dict plays the same role.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Protocol

import redis
from django.conf import settings

FRAME_TTL_S = 120
SEEN_TTL_S = 6 * 3600
INFERENCE_QUEUE = "inference"
# Socket timeouts keep ingest fast when Redis hangs: a dead Redis must give a quick 503.
REDIS_TIMEOUT_S = 0.5
# Slack beyond the broker's own redelivery delay: the restored task may wait behind others.
REDELIVERY_MARGIN_S = 30


def redelivery_window_s() -> int:
    """Seconds a delivered frame's bytes must outlive its worker: the broker's visibility
    timeout (after which kombu restores an unacknowledged task), one restore interval and
    REDELIVERY_MARGIN_S. Read from settings, so it follows CELERY_VISIBILITY_TIMEOUT."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    visibility = int(options.get("visibility_timeout", 3600))  # kombu's own default
    restore = int(options.get("unacked_restore_interval", 60))
    return visibility + restore + REDELIVERY_MARGIN_S


class FrameStoreUnavailable(RuntimeError):
    """Redis does not answer; callers answer 503 (ingest) or retry later (worker)."""


class FrameStore(Protocol):
    def put_frame(self, frame_id: str, data: bytes) -> None: ...
    def get_frame(self, frame_id: str) -> bytes | None: ...
    def has_frame(self, frame_id: str) -> bool: ...
    def extend_frame(self, frame_id: str, seconds: int) -> None: ...
    def keep_frame_for(self, frame_id: str, seconds: int) -> None: ...
    def delete_frame(self, frame_id: str) -> None: ...
    def was_queued(self, frame_id: str) -> bool: ...
    def mark_queued(self, frame_id: str) -> None: ...
    def queue_length(self, queue: str = INFERENCE_QUEUE) -> int: ...
    def count_upload(self, device_id: int) -> int: ...


def rate_key(device_id: int, second: int) -> str:
    return f"wb:rate:{device_id}:{second}"


def frame_key(frame_id: str) -> str:
    return f"wb:frame:{frame_id}"


def seen_key(frame_id: str) -> str:
    return f"wb:seen:{frame_id}"


class RedisFrameStore:
    """Frame bytes in Redis; every Redis error becomes FrameStoreUnavailable."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            health_check_interval=10,
        )

    def _call(self, method: str, *args: object, **kwargs: object) -> object:
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except redis.RedisError as exc:
            raise FrameStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc

    def put_frame(self, frame_id: str, data: bytes) -> None:
        self._call("set", frame_key(frame_id), data, ex=FRAME_TTL_S)

    def get_frame(self, frame_id: str) -> bytes | None:
        value = self._call("get", frame_key(frame_id))
        return value if isinstance(value, bytes) else None

    def has_frame(self, frame_id: str) -> bool:
        return bool(self._call("exists", frame_key(frame_id)))

    def extend_frame(self, frame_id: str, seconds: int) -> None:
        self._call("expire", frame_key(frame_id), seconds)

    def keep_frame_for(self, frame_id: str, seconds: int) -> None:
        """Let the frame live at least ``seconds`` more; a longer expiry is kept (EXPIRE GT)."""
        self._call("expire", frame_key(frame_id), seconds, gt=True)

    def delete_frame(self, frame_id: str) -> None:
        self._call("delete", frame_key(frame_id))

    def was_queued(self, frame_id: str) -> bool:
        return bool(self._call("exists", seen_key(frame_id)))

    def mark_queued(self, frame_id: str) -> None:
        self._call("set", seen_key(frame_id), b"1", ex=SEEN_TTL_S)

    def queue_length(self, queue: str = INFERENCE_QUEUE) -> int:
        """Tasks waiting on one Celery queue (kombu's Redis transport keeps it as a list)."""
        length = self._call("llen", queue)
        return int(length) if isinstance(length, int) else 0

    def count_upload(self, device_id: int) -> int:
        """Count an upload in the device's current one-second window; returns the count."""
        key = rate_key(device_id, int(time.time()))
        count = self._call("incr", key)
        self._call("expire", key, 2)
        return int(count) if isinstance(count, int) else 0


class MemoryFrameStore:
    """The demo's stand-in (one process, Celery eager): same contract, expiry included."""

    def __init__(self) -> None:
        self._frames: dict[str, tuple[float, bytes]] = {}
        self._seen: dict[str, float] = {}
        self._rates: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    def put_frame(self, frame_id: str, data: bytes) -> None:
        with self._lock:
            self._frames[frame_id] = (time.monotonic() + FRAME_TTL_S, data)

    def get_frame(self, frame_id: str) -> bytes | None:
        with self._lock:
            expires, data = self._frames.get(frame_id, (0.0, b""))
            return data if expires > time.monotonic() else None

    def has_frame(self, frame_id: str) -> bool:
        return self.get_frame(frame_id) is not None

    def extend_frame(self, frame_id: str, seconds: int) -> None:
        with self._lock:
            if frame_id in self._frames:
                self._frames[frame_id] = (time.monotonic() + seconds, self._frames[frame_id][1])

    def keep_frame_for(self, frame_id: str, seconds: int) -> None:
        with self._lock:
            if frame_id in self._frames:
                expires, data = self._frames[frame_id]
                self._frames[frame_id] = (max(expires, time.monotonic() + seconds), data)

    def delete_frame(self, frame_id: str) -> None:
        with self._lock:
            self._frames.pop(frame_id, None)

    def was_queued(self, frame_id: str) -> bool:
        with self._lock:
            return self._seen.get(frame_id, 0.0) > time.monotonic()

    def mark_queued(self, frame_id: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._seen[frame_id] = now + SEEN_TTL_S

    def queue_length(self, queue: str = INFERENCE_QUEUE) -> int:
        return 0

    def count_upload(self, device_id: int) -> int:
        second = int(time.time())
        with self._lock:
            self._rates = {k: v for k, v in self._rates.items() if k[1] >= second - 1}
            self._rates[(device_id, second)] = self._rates.get((device_id, second), 0) + 1
            return self._rates[(device_id, second)]


@lru_cache(maxsize=4)
def _store_for(url: str) -> FrameStore:
    return RedisFrameStore(url) if url else MemoryFrameStore()


def get_frame_store() -> FrameStore:
    """The store for settings.REDIS_URL (one client per URL and process)."""
    return _store_for(settings.REDIS_URL)
