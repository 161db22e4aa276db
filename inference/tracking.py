"""Per-stream face tracks: which face of the last frame is which, for smoothing emotions.

A track remembers (box, the identity this frame's match gave, distance, recent emotion
probabilities). It never holds an embedding and never lends its identity to a face: the engine
names every face from that frame's own embedding, and a track whose face now matches someone
else, or nobody, drops its smoothing history (``FaceEngine._identify``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count

import numpy as np

Box = tuple[int, int, int, int]


@dataclass
class Track:
    track_id: int
    box: Box
    last_seen: float
    identity: str | None = None
    distance: float | None = None
    history: deque[np.ndarray] = field(default_factory=deque)
    ema: np.ndarray | None = None


def box_iou(a: Box | tuple[float, ...], b: Box | tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance of box centres in units of the larger box width."""
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    return float(np.hypot(dx, dy)) / max(a[2], b[2], 1)


class TrackerState:
    """Tracks of one video stream / class session, kept in the worker's memory.

    Association is greedy on IoU (>= ``min_iou``), falling back to centre distance
    (< ``max_centre_shift`` box widths) for fast motion; tracks unseen for ``max_age``
    seconds are forgotten together with their identity and history.
    """

    def __init__(
        self,
        smoothing_window: int = 5,
        ema_alpha: float | None = None,
        min_iou: float = 0.3,
        max_centre_shift: float = 0.5,
        max_age: float = 2.0,
    ) -> None:
        self.tracks: dict[int, Track] = {}
        self.smoothing_window = max(1, smoothing_window)
        self.ema_alpha = ema_alpha
        self.min_iou = min_iou
        self.max_centre_shift = max_centre_shift
        self.max_age = max_age
        self._ids = count(1)

    def associate(self, boxes: Sequence[Box], now: float) -> list[Track]:
        """One track per box (existing or new), updating boxes and last-seen times."""
        self.tracks = {k: t for k, t in self.tracks.items() if now - t.last_seen <= self.max_age}
        pairs = [
            (box_iou(box, t.box), -centre_distance(box, t.box), i, t.track_id)
            for i, box in enumerate(boxes)
            for t in self.tracks.values()
        ]
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for iou, neg_shift, i, tid in sorted(pairs, reverse=True):
            close = iou >= self.min_iou or -neg_shift < self.max_centre_shift
            if close and i not in assigned and tid not in used:
                assigned[i] = self.tracks[tid]
                used.add(tid)
        result = []
        for i, box in enumerate(boxes):
            track = assigned.get(i) or self._new_track(box, now)
            track.box, track.last_seen = box, now
            result.append(track)
        return result

    def _new_track(self, box: Box, now: float) -> Track:
        track = Track(track_id=next(self._ids), box=box, last_seen=now)
        self.tracks[track.track_id] = track
        return track

    def smooth(self, track: Track, probs: np.ndarray) -> np.ndarray:
        """Add this frame's probabilities; return the rolling mean (or EMA when configured)."""
        if self.ema_alpha is not None:
            prev = track.ema if track.ema is not None else probs
            track.ema = self.ema_alpha * probs + (1.0 - self.ema_alpha) * prev
            return track.ema
        track.history.append(probs)
        while len(track.history) > self.smoothing_window:
            track.history.popleft()
        return np.mean(np.stack(track.history), axis=0)
