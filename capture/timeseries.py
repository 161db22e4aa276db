"""Writing one analysed frame into the time series, exactly once.

``store_frame_outcome`` runs ONE transaction: a consent re-check under row locks (a withdrawal
during analysis wins), the ProcessedFrame row (the idempotency key:
a conflict means the frame was already stored, so nothing else is written), the observations,
one multi-row ``INSERT ... ON CONFLICT DO UPDATE`` adding this frame's sums to each
participant's minute aggregate, the same for the daily rollup (organization's local day) and
for the session total (participant and class session), the presence tallies of participants
recognised only in faces too small for an expression ("present, not assessable"), the
participants' last_seen_at and the session counters. All three sums and the tallies are written
only after the ProcessedFrame insert succeeded, so a redelivered frame adds to none of them. The
SQL is portable between PostgreSQL and the demo's SQLite (both support ON CONFLICT ...
RETURNING). Datetimes go through ``db_datetime``, the backend's own adaptation, so raw
statements store them exactly as the ORM does and ORM lookups on them match on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from capture.gallery import lock_consented
from capture.models import (
    CaptureDevice,
    ClassSession,
    DailyRollup,
    MinuteAggregate,
    Observation,
    PresenceTally,
    ProcessedFrame,
    SessionTotal,
)
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.models import Participant

SUM_COLUMNS = [f"s_{name}" for name in CANONICAL_CLASSES]
ADDED_COLUMNS = ["n", *SUM_COLUMNS, "engaged_n", "engagement_known_n", "quality_sum"]


@dataclass(frozen=True)
class FaceObservation:
    """What is kept of one recognised, assessable face: numbers only."""

    participant_id: int
    probs: dict[str, float]
    emotion: str
    engaged: bool | None
    yaw: float | None
    pitch: float | None
    quality: float


@dataclass
class FrameOutcome:
    frame_id: str
    session_id: int
    device_id: int | None
    captured_at: dt.datetime
    faces: int
    unknown: int
    not_assessable: int
    observations: list[FaceObservation] = field(default_factory=list)
    # Consented participants recognised only in faces without an expression: ids, nothing else.
    present_not_assessable: list[int] = field(default_factory=list)


def db_datetime(value: dt.datetime) -> Any:
    """``value`` as the ORM would send it to this database (a raw statement must match).

    Without this, SQLite's driver stores an aware datetime as ``... 09:00:00+00:00`` while the
    ORM writes and compares ``... 09:00:00`` (naive UTC text), so ``minute=`` lookups missed the
    rows the worker wrote (the student page counted 0 sessions). PostgreSQL gets the value as is.
    """
    return connection.ops.adapt_datetimefield_value(value)


def aggregate_values(obs: FaceObservation) -> list[float | int]:
    """This observation's contribution to each ADDED_COLUMNS column."""
    return [
        1,
        *(obs.probs[name] for name in CANONICAL_CLASSES),
        1 if obs.engaged else 0,
        0 if obs.engaged is None else 1,
        obs.quality,
    ]


def store_frame_outcome(organization_id: int, tz: dt.tzinfo, outcome: FrameOutcome) -> bool:
    """Store the frame once; False (and nothing written) when it was already stored.

    ``tz`` is the organization's time zone (``Organization.tzinfo``): it decides the local day.

    Raises django.db.OperationalError when the database is unreachable (callers retry).
    """
    with transaction.atomic():
        drop_withdrawn(outcome)
        if not insert_processed_frame(outcome):
            return False
        Observation.objects.bulk_create(
            [observation_row(organization_id, outcome, obs) for obs in outcome.observations]
        )
        if outcome.observations:
            minute = outcome.captured_at.replace(second=0, microsecond=0)
            new_minutes = upsert_minute_aggregates(organization_id, outcome, minute)
            local_day = timezone.localtime(outcome.captured_at, tz).date()
            first_of_day = first_session_minutes(outcome, new_minutes, local_day, tz)
            upsert_daily_rollups(organization_id, outcome, local_day, new_minutes, first_of_day)
            upsert_session_totals(organization_id, outcome, minute, local_day, new_minutes)
        if outcome.present_not_assessable:
            upsert_presence_tallies(organization_id, outcome)
        # A recognised small face is a sighting too: the caseload must not read "never seen".
        seen = [o.participant_id for o in outcome.observations] + outcome.present_not_assessable
        if seen:
            update_last_seen(seen, outcome.captured_at)
        update_session_counters(outcome)
    return True


def drop_withdrawn(outcome: FrameOutcome) -> None:
    """Keep only observations and presence of participants still consented now
    (capture.gallery.lock_consented, one call so the rows are locked in one order).

    The gallery was built when analysis started; consent withdrawn since then must still win.
    A dropped face counts as unknown, like any face that is not attributed.
    """
    named = [obs.participant_id for obs in outcome.observations] + outcome.present_not_assessable
    if not named:
        return
    allowed = lock_consented(named)
    kept = [obs for obs in outcome.observations if obs.participant_id in allowed]
    present = [pid for pid in outcome.present_not_assessable if pid in allowed]
    dropped_present = len(outcome.present_not_assessable) - len(present)
    outcome.unknown += len(outcome.observations) - len(kept) + dropped_present
    outcome.not_assessable -= dropped_present
    outcome.observations = kept
    outcome.present_not_assessable = present


def update_last_seen(participant_ids: list[int], at: dt.datetime) -> None:
    """Move last_seen_at forward to ``at``; a frame stored late never moves it back."""
    earlier = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=at)
    Participant.objects.filter(earlier, pk__in=participant_ids).update(last_seen_at=at)


def insert_processed_frame(outcome: FrameOutcome) -> bool:
    table = ProcessedFrame._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (frame_id, session_id, captured_at, processed_at, faces, "  # noqa: S608
            "recognised) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (frame_id) DO NOTHING "
            "RETURNING id",
            [
                outcome.frame_id,
                outcome.session_id,
                db_datetime(outcome.captured_at),
                db_datetime(timezone.now()),
                min(outcome.faces, 32767),
                len(outcome.observations),
            ],
        )
        return cursor.fetchone() is not None


def observation_row(
    organization_id: int, outcome: FrameOutcome, obs: FaceObservation
) -> Observation:
    return Observation(
        organization_id=organization_id,
        participant_id=obs.participant_id,
        session_id=outcome.session_id,
        frame_id=outcome.frame_id,
        captured_at=outcome.captured_at,
        emotion=obs.emotion,
        engaged=obs.engaged,
        yaw=obs.yaw,
        pitch=obs.pitch,
        quality=obs.quality,
        **{f"p_{name}": obs.probs[name] for name in CANONICAL_CLASSES},
    )


def upsert_sql(
    table: str,
    key_columns: Sequence[str],
    extra: Sequence[str],
    rows: int,
    earliest: Sequence[str] = (),
) -> str:
    """INSERT of ``rows`` rows that adds every ADDED_COLUMNS and ``extra`` value to an existing
    row; the ``earliest`` columns keep the values of whichever row has the smaller first of them
    (frames can be stored out of order)."""
    columns = [*key_columns, *ADDED_COLUMNS, *extra, *earliest]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sums = [f"{c} = {table}.{c} + EXCLUDED.{c}" for c in [*ADDED_COLUMNS, *extra]]
    # Both SQL dialects evaluate every SET expression against the row as it was before.
    earlier = f"EXCLUDED.{earliest[0]} < {table}.{earliest[0]}" if earliest else ""
    kept = [f"{c} = CASE WHEN {earlier} THEN EXCLUDED.{c} ELSE {table}.{c} END" for c in earliest]
    updates = ", ".join([*sums, *kept])
    conflict = ", ".join(key_columns[1:])  # organization_id is not part of the key
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)} "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates} RETURNING participant_id, n"
    )


def upsert_minute_aggregates(
    organization_id: int, outcome: FrameOutcome, minute: dt.datetime
) -> set[int]:
    """Add the frame to each participant's minute; returns participants whose minute is new.

    Each frame adds n=1 per participant, so a returned n of 1 means the row was just created
    (exact even under concurrency: the upsert locks the row).
    """
    params: list[Any] = []
    for obs in outcome.observations:
        params += [organization_id, obs.participant_id, outcome.session_id, db_datetime(minute)]
        params += aggregate_values(obs)
    keys = ["organization_id", "participant_id", "session_id", "minute"]
    sql = upsert_sql(MinuteAggregate._meta.db_table, keys, [], len(outcome.observations))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pid for pid, n in cursor.fetchall() if n == 1}


def first_session_minutes(
    outcome: FrameOutcome, new_minutes: set[int], day: dt.date, tz: dt.tzinfo
) -> set[int]:
    """Participants for whom this is their only minute of this session on this local day so far.

    Any other stored minute counts, earlier or later: frames of one session can be stored out
    of order (two worker processes, a retried frame), and a late frame of an earlier minute
    must not count the session a second time.
    """
    if not new_minutes:
        return set()
    day_start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    minute = outcome.captured_at.replace(second=0, microsecond=0)
    other = (
        MinuteAggregate.objects.filter(
            session_id=outcome.session_id,
            participant_id__in=new_minutes,
            minute__gte=day_start,
            minute__lt=day_end,
        )
        .exclude(minute=minute)
        .values_list("participant_id", flat=True)
    )
    return new_minutes - set(other)


def upsert_daily_rollups(
    organization_id: int,
    outcome: FrameOutcome,
    day: dt.date,
    new_minutes: set[int],
    first_of_day: set[int],
) -> None:
    params: list[Any] = []
    for obs in outcome.observations:
        params += [organization_id, obs.participant_id, day, *aggregate_values(obs)]
        params += [int(obs.participant_id in new_minutes), int(obs.participant_id in first_of_day)]
    keys = ["organization_id", "participant_id", "day"]
    sql = upsert_sql(
        DailyRollup._meta.db_table,
        keys,
        ["minutes_observed", "sessions"],
        len(outcome.observations),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def upsert_session_totals(
    organization_id: int,
    outcome: FrameOutcome,
    minute: dt.datetime,
    day: dt.date,
    new_minutes: set[int],
) -> None:
    """Add the frame to each participant's session total (one statement): the same sums as
    their minute rows of the session, a minute counted when its row is new; first_minute and
    its local day are the earliest stored so far."""
    params: list[Any] = []
    for obs in outcome.observations:
        params += [organization_id, obs.participant_id, outcome.session_id, *aggregate_values(obs)]
        params += [int(obs.participant_id in new_minutes), db_datetime(minute), day]
    keys = ["organization_id", "participant_id", "session_id"]
    sql = upsert_sql(
        SessionTotal._meta.db_table,
        keys,
        ["minutes_observed"],
        len(outcome.observations),
        earliest=["first_minute", "day"],
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def upsert_presence_tallies(organization_id: int, outcome: FrameOutcome) -> None:
    """Add this frame to each "present, not assessable" participant's tally of the session (one
    statement); first_seen and last_seen widen to the frame's capture time (frames can be
    stored out of order)."""
    table = PresenceTally._meta.db_table
    columns = [
        "organization_id",
        "participant_id",
        "session_id",
        "first_seen",
        "last_seen",
        "frames_not_assessable",
    ]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    for participant_id in outcome.present_not_assessable:
        params += [organization_id, participant_id, outcome.session_id]
        seen = db_datetime(outcome.captured_at)
        params += [seen, seen, 1]
    rows = ", ".join([row] * len(outcome.present_not_assessable))
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {rows} "  # noqa: S608
        "ON CONFLICT (participant_id, session_id) DO UPDATE SET "
        f"frames_not_assessable = {table}.frames_not_assessable + 1, "
        f"first_seen = CASE WHEN EXCLUDED.first_seen < {table}.first_seen "
        f"THEN EXCLUDED.first_seen ELSE {table}.first_seen END, "
        f"last_seen = CASE WHEN EXCLUDED.last_seen > {table}.last_seen "
        f"THEN EXCLUDED.last_seen ELSE {table}.last_seen END"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def update_session_counters(outcome: FrameOutcome) -> None:
    ClassSession.objects.filter(pk=outcome.session_id).update(
        frames_processed=F("frames_processed") + 1,
        unknown_faces=F("unknown_faces") + outcome.unknown,
        not_assessable_faces=F("not_assessable_faces") + outcome.not_assessable,
    )
    if outcome.device_id is not None:
        CaptureDevice.objects.filter(pk=outcome.device_id).update(last_seen_at=timezone.now())


def count_dropped_frame(session_id: int) -> None:
    """A queued frame that could not be analysed (expired or undecodable): count only."""
    ClassSession.objects.filter(pk=session_id).update(frames_dropped=F("frames_dropped") + 1)
