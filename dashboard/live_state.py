"""The live class view's first picture, before the WebSocket pushes anything.

Same shape as the pipeline's pushed summary (capture.live.build_live_summary), built from the
session's most recent stored minute, so the page shows something sensible on load and after a
reconnect. Class-level only: counts per dominant emotion, never who.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Max, QuerySet

from capture.models import ClassSession, MinuteAggregate, SessionStatus
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.models import Classroom, StaffMember


def sessions_visible_to(staff: StaffMember) -> QuerySet[ClassSession]:
    """Class sessions of classrooms the staff member may see (teachers: their own classes)."""
    classrooms = Classroom.objects.visible_to(staff.user)
    return ClassSession.objects.filter(classroom__in=classrooms).select_related(
        "classroom", "classroom__organization"
    )


def running_sessions(staff: StaffMember) -> QuerySet[ClassSession]:
    return sessions_visible_to(staff).filter(status=SessionStatus.RUNNING).order_by("-started_at")


def latest_minute_summary(session: ClassSession, min_group_size: int) -> dict[str, Any]:
    """Counts of participants per dominant emotion in the last stored minute (suppressed when
    fewer participants than ``min_group_size`` were recognised)."""
    rows = MinuteAggregate.objects.filter(session=session)
    last = rows.aggregate(last=Max("minute"))["last"]
    minute_rows = list(rows.filter(minute=last)) if last else []
    recognised = len(minute_rows)
    suppressed = recognised < max(min_group_size, 1)
    counts = Counter(row.dominant_emotion for row in minute_rows)
    known = sum(row.engagement_known_n for row in minute_rows)
    engaged = sum(row.engaged_n for row in minute_rows)
    return {
        "type": "session.summary",
        "session": session.pk,
        "captured_at": last.isoformat() if last else None,
        "frames_processed": session.frames_processed,
        "faces_seen": None,
        "recognised": recognised,
        "not_assessable": None,
        "unknown": None,
        "suppressed": suppressed,
        "emotions": None if suppressed else {name: counts[name] for name in CANONICAL_CLASSES},
        "engaged_share": None if suppressed or not known else round(engaged / known, 3),
    }
