"""Loading what the rule engine needs, in a handful of queries (no per-participant queries).

* Day windows come from capture.DailyRollup (one row per participant and local day).
* Session windows come from capture.SessionTotal, the sums per participant and class session
  the worker keeps with the minute rows, so no evaluation sums minute rows.
* School days are the days on which the organization has any rollup at all.
* Only participants with active ``emotion_analysis`` consent are loaded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from alerts.rules import EMOTIONS, Window
from capture.models import DailyRollup, SessionTotal
from consent.age_rules import AGE_FIELDS
from consent.models import ConsentRecord, Scope
from consent.rules import SchoolContext
from wellbeing.models import Organization, Participant

SUM_COLUMNS: tuple[str, ...] = ("n", *(f"s_{name}" for name in EMOTIONS), "engaged_n")
# Below this many participants the SQL filters by id; above it, reading the whole school's
# rows and skipping in Python is cheaper than a huge IN list.
SMALL_SELECTION = 2000
SUM_COLUMNS_WITH_KNOWN: tuple[str, ...] = (*SUM_COLUMNS, "engagement_known_n")


@dataclass
class SeriesBundle:
    """Windows per participant (sorted by day) and the organization's school days."""

    school_days: list[dt.date]
    windows: dict[int, list[Window]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(ws) for ws in self.windows.values())


def consented_participant_ids(org: Organization, among: Collection[int] | None = None) -> set[int]:
    """Ids of the organization's participants with active emotion_analysis consent (3 queries).

    Uses consent.rules.decide_consent, so the precedence rules are exactly those of the
    consent app (current notice, objections override, withdrawals count for nothing, the
    school's age rules for a student's own grant).
    """
    school = SchoolContext.load(org)
    if school.notice is None:
        return set()
    records = ConsentRecord.objects.in_force().filter(participant__organization=org)
    if among is not None:
        records = records.filter(participant_id__in=list(among))
    by_participant: dict[int, list[ConsentRecord]] = defaultdict(list)
    for record in records.only(
        "participant_id", "notice_id", "scopes", "decision", "given_by", "withdrawn_at"
    ):
        by_participant[record.participant_id].append(record)
    people = Participant.objects.filter(pk__in=list(by_participant)).only(*AGE_FIELDS)
    scope = [Scope.EMOTION_ANALYSIS.value]
    return {
        person.pk
        for person in people
        if school.decide(person, by_participant[person.pk], scope).allows(*scope)
    }


def classroom_groups(
    participant_ids: Iterable[int] | None, org: Organization
) -> dict[int, list[int]]:
    """participant id -> classroom ids (one query on the membership table)."""
    through = Participant.classrooms.through
    rows = through.objects.filter(participant__organization=org)
    if participant_ids is not None:
        rows = rows.filter(participant_id__in=list(participant_ids))
    groups: dict[int, list[int]] = defaultdict(list)
    for pid, cid in rows.values_list("participant_id", "classroom_id"):
        groups[pid].append(cid)
    return groups


def classmates_of(org: Organization, participant_ids: Collection[int]) -> set[int]:
    """The participants sharing a classroom with any of ``participant_ids`` (and those ids)."""
    through = Participant.classrooms.through
    classrooms = through.objects.filter(participant_id__in=list(participant_ids)).values(
        "classroom_id"
    )
    mates = through.objects.filter(classroom_id__in=classrooms).values_list(
        "participant_id", flat=True
    )
    return set(mates) | set(participant_ids)


def load_school_days(org: Organization, start: dt.date, end: dt.date) -> list[dt.date]:
    days = DailyRollup.objects.filter(organization=org, day__range=(start, end))
    return sorted(set(days.values_list("day", flat=True).distinct()))


def load_daily_series(
    org: Organization, start: dt.date, end: dt.date, participant_ids: Collection[int]
) -> SeriesBundle:
    """Day windows of ``participant_ids`` from DailyRollup in [start, end] (3 queries).

    Each window's peer groups are ("classroom", classroom id, day) for every classroom of the
    participant, for the class-median comparison.
    """
    wanted = set(participant_ids)
    small = len(wanted) <= SMALL_SELECTION
    # Only the wanted participants' windows are kept, so only their classrooms are needed.
    groups = classroom_groups(wanted if small else None, org)
    query = DailyRollup.objects.filter(organization=org, day__range=(start, end))
    if small:
        query = query.filter(participant_id__in=wanted)
    columns = ("participant_id", "day", *SUM_COLUMNS_WITH_KNOWN, "minutes_observed")
    windows: dict[int, list[Window]] = defaultdict(list)
    # The ORM builds the SQL; rows are read from the cursor directly because Django's per-row
    # conversion dominated the run time at 10,000 participants.
    sql, params = (
        query.order_by("participant_id", "day").values_list(*columns).query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            pid, day = row[0], row[1]
            if pid not in wanted:
                continue
            keys = tuple(("classroom", cid, day) for cid in groups.get(pid, ()))
            windows[pid].append(Window(day, day.isoformat(), row[2:], keys))
    return SeriesBundle(load_school_days(org, start, end), dict(windows))


def session_totals(org: Organization, start: dt.date, end: dt.date) -> QuerySet[Any, Any]:
    """Totals per participant and class session whose first minute (the participant's) lies in
    [start, end] (local days), oldest first: participant, session, day (the local day of that
    first minute), then the window totals in alerts.rules.TOTAL_FIELDS order. The
    (organization, first_minute) index yields them in order."""
    lo = org.local_midnight(start)
    hi = org.local_midnight(end + dt.timedelta(days=1))
    columns = ("participant_id", "session_id", "day", *SUM_COLUMNS_WITH_KNOWN, "minutes_observed")
    return (
        SessionTotal.objects.filter(organization=org, first_minute__gte=lo, first_minute__lt=hi)
        .order_by("first_minute")
        .values_list(*columns)
    )


def load_session_series(
    org: Organization, start: dt.date, end: dt.date, participant_ids: Collection[int]
) -> SeriesBundle:
    """Session windows from SessionTotal (2 queries).

    ``minutes`` is the number of minute rows; the day is the local day of the participant's
    first minute in the session. A small selection (one class after its lesson) is filtered in
    SQL (participant/session index), so only those participants' totals are read.
    """
    wanted = set(participant_ids)
    query = session_totals(org, start, end)
    if len(wanted) <= SMALL_SELECTION:
        query = query.filter(participant_id__in=wanted)
    windows: dict[int, list[Window]] = defaultdict(list)
    # Read from the cursor, as for day windows: Django's per-row dicts cost more than the SQL.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # A session's label and peer group are shared by its ~25 windows (built once, not per row).
    shared: dict[int, tuple[str, tuple[tuple[str, int], ...]]] = {}
    for row in rows:
        pid, session_id = row[0], row[1]
        if pid in wanted:
            if session_id not in shared:
                shared[session_id] = (f"session {session_id}", (("session", session_id),))
            label, group = shared[session_id]
            windows[pid].append(Window(row[2], label, row[3:], group))
    return SeriesBundle(load_school_days(org, start, end), dict(windows))
