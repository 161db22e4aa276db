"""'Present, not assessable' on the student page: sessions where the student was recognised but
their face was too small in the image to read an expression (capture.models.PresenceTally).

These are counts of frames, never emotion numbers: they are merged into the list of sessions
attended and summed for the range, and stay out of every chart, mean and alert rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from capture.models import MinuteAggregate, PresenceTally
from dashboard.series import Attendance, DateRange
from wellbeing.models import Participant


@dataclass(frozen=True)
class PresenceSummary:
    """Over the date range: sessions with frames in which the student was present but not
    assessable, how many of those had no observation at all, and the frames in total."""

    sessions: int = 0
    only_present: int = 0
    frames: int = 0


def presence_in_range(
    participant: Participant, rng: DateRange, tz: dt.tzinfo
) -> dict[int, PresenceTally]:
    """The participant's tallies whose sightings fall in the local date range, by session id."""
    start, end = rng.utc_bounds(tz)
    tallies = PresenceTally.objects.of_participant(participant).seen_between(start, end)
    return {tally.session_id: tally for tally in tallies.select_related("session__classroom")}


def merge_presence(
    attended: list[Attendance], tallies: dict[int, PresenceTally], tz: dt.tzinfo, limit: int = 20
) -> list[Attendance]:
    """The sessions list with each session's not-assessable frames, newest first.

    A session with only such frames is listed too (no minutes observed), so the student is
    never shown as absent from a lesson where the camera recognised them.
    """
    listed = {row.session_id for row in attended}
    rows = [
        dataclasses.replace(
            row, frames_not_assessable=tallies[row.session_id].frames_not_assessable
        )
        if row.session_id in tallies
        else row
        for row in attended
    ]
    rows += [present_only_row(tally, tz) for sid, tally in tallies.items() if sid not in listed]
    rows.sort(key=lambda row: row.first_minute, reverse=True)
    return rows[:limit]


def present_only_row(tally: PresenceTally, tz: dt.tzinfo) -> Attendance:
    session = tally.session
    return Attendance(
        session_id=session.pk,
        title=session.title,
        classroom=session.classroom.name if session.classroom else "",
        first_minute=tally.first_seen.astimezone(tz),
        last_minute=tally.last_seen.astimezone(tz),
        minutes=0,
        frames_not_assessable=tally.frames_not_assessable,
    )


def summarise_presence(
    participant: Participant, rng: DateRange, tz: dt.tzinfo, tallies: dict[int, PresenceTally]
) -> PresenceSummary:
    """Range totals; ``only_present`` counts sessions with no minute observed in the range."""
    if not tallies:
        return PresenceSummary()
    start, end = rng.utc_bounds(tz)
    observed = set(
        MinuteAggregate.objects.filter(
            participant=participant, session_id__in=tallies, minute__gte=start, minute__lt=end
        )
        .values_list("session_id", flat=True)
        .distinct()
    )
    frames = sum(tally.frames_not_assessable for tally in tallies.values())
    return PresenceSummary(len(tallies), len(set(tallies) - observed), frames)
