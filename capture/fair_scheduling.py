"""Fair scheduling of frames over schools, then devices, so one device cannot delay another school.

Without it every frame's task waits in one FIFO Celery queue: a device sending expensive frames
at its rate limit puts hundreds of frames ahead of every other school's (issue 15: 94-112 s of
delay). With it (``FAIR_SCHEDULING``, on by default where ``REDIS_URL`` is set):

* Ingest appends the frame's entry to its device's pending list in Redis
  (``wb:fair:<queue>:frames:<school>:<device>``) and queues a *turn* task
  (``process_next_frame_task``) on the same Celery queue as before (``inference`` or its shard).
  A turn names no frame: whichever worker runs it takes the frame whose turn it is.
* The pick (one Lua script, atomic) shares worker *time* between schools, not frame counts:
  start-time fair queueing over the schools with pending frames (the lowest start tag goes; a
  school's next start tag is this one plus what its device's last frame cost a worker, measured
  by the worker), then round robin over that school's devices, one frame per turn. A school that
  had nothing pending starts at the current virtual time (no credit banked while idle), so it
  goes before a school that keeps the workers busy: a school sending now and then waits for
  about the frame a worker is already processing, and a school whose frames cost 5x as much
  gets a fifth of the frames while both have frames waiting.
* Caps, checked atomically with the append: at most ``FAIR_MAX_PENDING_PER_DEVICE`` frames of a
  device and ``FAIR_MAX_PENDING_PER_SCHOOL`` of a school wait; beyond that ingest answers 429
  with Retry-After to that device only (the capture client buffers and re-sends), while other
  schools keep flowing. The global ``INGEST_MAX_QUEUE`` bound still applies on top.
* Redelivery: the pick also writes a *claim* (``wb:fair:claim:<task id>``) living
  ``redelivery_window_s()``. A turn task redelivered after its worker died, or retried after a
  database outage, keeps its Celery task id, finds its claim and processes the same frame again
  (the ProcessedFrame idempotency stores it at most once); the claim is deleted when done.

Turns and entries are counted the same way (one turn per admitted frame), so a turn that finds
nothing (e.g. its entry went with a Redis restart) simply ends. Scripts build key names from a
prefix, so this needs a single Redis instance (not Redis Cluster), as kombu's transport does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache

import redis
from django.conf import settings

from capture.frame_store import REDIS_TIMEOUT_S, FrameStoreUnavailable, redelivery_window_s

# Pending lists and rings of a school that sends nothing for this long disappear by themselves.
IDLE_KEYS_TTL_S = 3600

# A device's frames are charged what its last frame cost a worker; a new device this much.
DEFAULT_FRAME_COST_S = 1.0

# KEYS: none (a single-instance Redis). ARGV: prefix, school, device, entry, device cap,
# school cap, ttl. Returns 1 (added), -1 (device over its cap), -2 (school over its cap).
# A school that had nothing waiting becomes active with start tag max(virtual time, its last
# finish tag): it cannot bank credit while idle, and goes before schools whose next frame
# starts later (start-time fair queueing).
ADD_SCRIPT = """
local p, school, device = ARGV[1], ARGV[2], ARGV[3]
local frames = p .. 'frames:' .. school .. ':' .. device
local devices = p .. 'devices:' .. school
local pending = p .. 'pending:' .. school
local waiting = redis.call('LLEN', frames)
if waiting >= tonumber(ARGV[5]) then return -1 end
local school_waiting = tonumber(redis.call('GET', pending) or '0')
if school_waiting >= tonumber(ARGV[6]) then return -2 end
redis.call('RPUSH', frames, ARGV[4])
redis.call('INCR', pending)
if waiting == 0 then redis.call('RPUSH', devices, device) end
if school_waiting <= 0 then
  local now = tonumber(redis.call('GET', p .. 'vtime') or '0')
  local finish = tonumber(redis.call('GET', p .. 'finish:' .. school) or '0')
  redis.call('ZADD', p .. 'active', tostring(math.max(now, finish)), school)
end
for _, key in ipairs({frames, devices, pending, p .. 'active'}) do
  redis.call('EXPIRE', key, ARGV[7])
end
return 1
"""

# ARGV: prefix, claim key, claim ttl, keys ttl, default cost. Returns the entry whose turn it
# is (also written under the claim key) or false. The active school with the lowest start tag
# goes; its devices take turns; the school's next start tag is this one plus the device's last
# measured cost. Stale members (keys expired) are skipped and dropped.
PICK_SCRIPT = """
local p = ARGV[1]
for _ = 1, 1000 do
  local top = redis.call('ZRANGE', p .. 'active', 0, 0, 'WITHSCORES')
  if #top == 0 then return false end
  local school, start = top[1], tonumber(top[2])
  local devices = p .. 'devices:' .. school
  local pending = p .. 'pending:' .. school
  local device = redis.call('LPOP', devices)
  local entry, cost = false, 0
  if device then
    local frames = p .. 'frames:' .. school .. ':' .. device
    entry = redis.call('LPOP', frames)
    if redis.call('LLEN', frames) > 0 then redis.call('RPUSH', devices, device) end
    local cost_key = p .. 'cost:' .. school .. ':' .. device
    cost = tonumber(redis.call('GET', cost_key) or ARGV[5])
  end
  local finish = tostring(start + cost)
  redis.call('SET', p .. 'vtime', tostring(start), 'EX', ARGV[4])
  redis.call('SET', p .. 'finish:' .. school, finish, 'EX', ARGV[4])
  if redis.call('LLEN', devices) > 0 then
    redis.call('DECR', pending)
    redis.call('ZADD', p .. 'active', finish, school)
  else
    redis.call('DEL', pending)
    redis.call('ZREM', p .. 'active', school)
  end
  if entry then
    redis.call('SET', ARGV[2], entry, 'EX', ARGV[3])
    return entry
  end
end
return false
"""


class FairShareExceeded(Exception):
    """The device or its school already has its share of frames waiting; ``scope`` says which."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} already has {limit} frames waiting")
        self.scope = scope
        self.limit = limit


@dataclass(frozen=True)
class PendingFrame:
    """A frame waiting for its turn: the arguments of capture.processing.process_frame."""

    frame_id: str
    session_id: int
    device_id: int | None  # None only for frames queued FIFO without a device
    captured_at: float
    school_id: int = 0  # the device's organization: whose worker time the frame costs

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str) -> PendingFrame:
        fields = json.loads(raw)
        return cls(
            str(fields["frame_id"]),
            int(fields["session_id"]),
            None if fields["device_id"] is None else int(fields["device_id"]),
            float(fields["captured_at"]),
            int(fields.get("school_id", 0)),
        )


def fair_scheduling_enabled() -> bool:
    """On unless FAIR_SCHEDULING is false; needs Redis (the eager demo runs frames in order)."""
    return bool(getattr(settings, "FAIR_SCHEDULING", True)) and bool(settings.REDIS_URL)


def max_pending_per_device() -> int:
    return max(1, int(getattr(settings, "FAIR_MAX_PENDING_PER_DEVICE", 10)))


def max_pending_per_school() -> int:
    return max(1, int(getattr(settings, "FAIR_MAX_PENDING_PER_SCHOOL", 100)))


def fair_prefix(queue: str) -> str:
    """Key prefix of one Celery queue's pending frames (a shard's frames stay on its shard)."""
    return f"wb:fair:{queue}:"


def claim_key(task_id: str) -> str:
    return f"wb:fair:claim:{task_id}"


class FairScheduler:
    """Pending frames per school and device in Redis; every Redis error is FrameStoreUnavailable."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self._add = self.client.register_script(ADD_SCRIPT)
        self._pick = self.client.register_script(PICK_SCRIPT)

    def add_frame(self, queue: str, frame: PendingFrame) -> None:
        """Append ``frame`` to its device's pending list; FairShareExceeded over a cap."""
        device_cap, school_cap = max_pending_per_device(), max_pending_per_school()
        args: list[str | int] = [fair_prefix(queue), frame.school_id, str(frame.device_id)]
        args += [frame.encode(), device_cap, school_cap, IDLE_KEYS_TTL_S]
        try:
            added = self._add(args=args)
        except redis.RedisError as exc:
            raise FrameStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc
        if added == -1:
            raise FairShareExceeded("this device", device_cap)
        if added == -2:
            raise FairShareExceeded("this school", school_cap)

    def claim_next_frame(self, queue: str, task_id: str) -> PendingFrame | None:
        """The frame this turn processes: the one it claimed before (a redelivered or retried
        turn), else the next in the fair order, claimed for ``redelivery_window_s()``."""
        key, window = claim_key(task_id), redelivery_window_s()
        try:
            claimed = self.client.get(key)
            if claimed is not None:
                self.client.expire(key, window)
            else:
                args: list[str | int | float] = [fair_prefix(queue), key, window]
                claimed = self._pick(args=[*args, IDLE_KEYS_TTL_S, DEFAULT_FRAME_COST_S])
        except redis.RedisError as exc:
            raise FrameStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc
        return PendingFrame.decode(claimed) if isinstance(claimed, bytes | str) else None

    def record_cost(self, queue: str, frame: PendingFrame, seconds: float) -> None:
        """What ``frame`` cost a worker (wall seconds): its device's next frames are charged
        this to its school's share."""
        key = f"{fair_prefix(queue)}cost:{frame.school_id}:{frame.device_id}"
        try:
            self.client.set(key, f"{max(seconds, 0.001):.4f}", ex=IDLE_KEYS_TTL_S)
        except redis.RedisError as exc:
            raise FrameStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc

    def release_claim(self, task_id: str) -> None:
        """The turn is done (stored, or dropped for good): forget which frame it took."""
        try:
            self.client.delete(claim_key(task_id))
        except redis.RedisError as exc:
            raise FrameStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc

    def waiting_frames(self, queue: str) -> list[PendingFrame]:
        """Every frame waiting on ``queue``, by school and device, each device's in arrival
        order (for monitoring and tests; scans keys, so not for the hot path)."""
        frames: list[PendingFrame] = []
        for key in sorted(self.client.scan_iter(match=f"{fair_prefix(queue)}frames:*")):
            frames += [PendingFrame.decode(raw) for raw in self.client.lrange(key, 0, -1)]
        return frames

    def pending_count(self, queue: str, school_id: int) -> int:
        """Frames of ``school_id`` waiting on ``queue`` (not counting those being processed)."""
        value = self.client.get(f"{fair_prefix(queue)}pending:{school_id}")
        return int(value) if value is not None else 0


@lru_cache(maxsize=4)
def _scheduler_for(url: str) -> FairScheduler:
    return FairScheduler(url)


def get_fair_scheduler() -> FairScheduler | None:
    """The scheduler ingest queues frames with, or None when fair scheduling is off (FIFO)."""
    return _scheduler_for(settings.REDIS_URL) if fair_scheduling_enabled() else None


def get_turn_scheduler() -> FairScheduler:
    """The scheduler a worker's turn picks from: there even with FAIR_SCHEDULING off, so turns
    queued before a switch still drain."""
    return _scheduler_for(settings.REDIS_URL)
