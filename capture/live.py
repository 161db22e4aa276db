"""The live class view: a class-level summary pushed to Channels group ``session-<id>``.

The payload never names or numbers a student: counts per emotion, engaged share, faces seen,
recognised, recognised but not assessable (face too small or unclear), and not recognised.
With fewer recognised faces than the organization's min_group_size, the emotion counts and
engaged share are suppressed (small groups could single a student out).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from capture.timeseries import FrameOutcome
from inference.model_manifest import CANONICAL_CLASSES

log = logging.getLogger(__name__)


def session_group(session_id: int) -> str:
    return f"session-{session_id}"


def build_live_summary(
    outcome: FrameOutcome, frames_processed: int, min_group_size: int
) -> dict[str, Any]:
    """Class-level numbers of one stored frame (see module doc for suppression)."""
    recognised = len(outcome.observations)
    suppressed = recognised < max(min_group_size, 1)
    counts = Counter(o.emotion for o in outcome.observations)
    known = [o.engaged for o in outcome.observations if o.engaged is not None]
    return {
        "type": "session.summary",
        "session": outcome.session_id,
        "captured_at": outcome.captured_at.isoformat(),
        "frames_processed": frames_processed,
        "faces_seen": outcome.faces,
        "recognised": recognised,
        # Present but not counted above: consented students whose face was too small or
        # unclear for an expression, and faces nobody could be named for (not consented,
        # or too small to tell who it is).
        "not_assessable": outcome.not_assessable,
        "unknown": outcome.unknown,
        "suppressed": suppressed,
        "emotions": None if suppressed else {name: counts[name] for name in CANONICAL_CLASSES},
        "engaged_share": None if suppressed or not known else round(sum(known) / len(known), 3),
    }


def push_live_summary(summary: dict[str, Any]) -> None:
    """Send to the session's group; a failing channel layer is logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            session_group(summary["session"]), {"type": "session.summary", "summary": summary}
        )
    except Exception as exc:  # live view is best effort; the stored data is what counts
        log.warning("live summary for session %s not sent: %s", summary["session"], exc)
