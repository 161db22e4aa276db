"""The synthetic school of the rule-evaluation benchmark, bulk-loaded with COPY.

One DailyRollup row per student and school day (alerts.replay.generate_daily_arrays), and on
the most recent ``minute_days`` school days also the MinuteAggregate rows those rollups sum:
every class has ``lessons`` ended ClassSessions a day and a present student has one row per
observed minute (6 observations a minute, the day's emotion shares), so a rollup equals the
sum of its minute rows (``rollup_mismatches`` checks it), and one SessionTotal row per student
and attended lesson, the sum of that lesson's minute rows as the worker keeps it
(``session_total_mismatches`` checks it). Days without minute rows stand for history whose
minute rows and session totals the retention purge already removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from alerts.replay import generate_daily_arrays, weekdays
from bench.database import copy_rows

SUMS = ("s_angry", "s_disgust", "s_fear", "s_happy", "s_neutral", "s_sad", "s_surprise")
PER_MINUTE = 6  # observations a minute (one frame every 10 s)
FIRST_LESSON = dt.time(9)
BREAK_MINUTES = 10
CLASS_SIZE = 25


@dataclass(frozen=True)
class MinutePlan:
    """Which days carry minute rows and how dense they are."""

    days: int  # school days of DailyRollup
    minute_days: int  # the most recent school days that also have minute rows
    minutes_per_day: int  # most observed minutes of a student a day (fewer on thin days)
    lessons: int  # class sessions per class and day

    @property
    def lesson_minutes(self) -> int:
        return math.ceil(self.minutes_per_day / self.lessons)

    @property
    def first_minute_day(self) -> int:
        return self.days - min(self.minute_days, self.days)


@dataclass
class BenchSchool:
    """What was loaded, for the benchmark's figures and the staged minute loading."""

    org: Any
    calendar: list[dt.date]
    plan: MinutePlan
    cols: dict[str, np.ndarray]
    pids: list[int]
    rollup_rows: int
    sessions: dict[tuple[int, int, int], int]  # (class index, day index, lesson) -> session id


def load_school(participants: int, plan: MinutePlan, seed: int) -> BenchSchool:
    """Organization, classes, participants with consent, DailyRollup and the class sessions
    of the minute days. Minute rows are loaded afterwards, day by day (load_minute_days)."""
    from wellbeing.models import Organization

    org = Organization.objects.create(name="Bench School", slug="bench", jurisdiction="uk")
    cols = minute_day_columns(generate_daily_arrays(participants, plan.days, seed), plan)
    calendar = weekdays(dt.date(2026, 1, 5), plan.days)
    class_ids = create_classes(org, int(cols["classroom"].max()) + 1)
    pids = copy_participants(org, participants, class_ids)
    rollups = copy_rollups(org, cols, pids, calendar)
    sessions = create_sessions(class_ids, calendar, plan)
    return BenchSchool(org, calendar, plan, cols, pids, rollups, sessions)


def minute_day_columns(cols: dict[str, np.ndarray], plan: MinutePlan) -> dict[str, np.ndarray]:
    """Per-minute sums of every student-day and, on minute days, rollups equal to their sum.

    On a minute day a student has ``k = min(minutes, minutes_per_day)`` minute rows, each with
    the day's shares rounded as COPY writes them; the rollup is k times one minute row.
    """
    n = cols["n"].astype(float)
    per_minute = {c: np.round(cols[c] / n * PER_MINUTE, 4) for c in SUMS if c in cols}
    engaged = np.rint(cols["engaged_n"] / n * PER_MINUTE).astype(np.int64)
    minute_day = cols["day"] >= plan.first_minute_day
    k = np.where(minute_day, np.minimum(cols["minutes"], plan.minutes_per_day), cols["minutes"])
    out = dict(cols)
    out.update({f"m_{c}": v for c, v in per_minute.items()}, m_engaged=engaged, k=k)
    out["minute_day"] = minute_day
    out["n"] = np.where(minute_day, k * PER_MINUTE, cols["n"])
    out["engaged_n"] = np.where(minute_day, k * engaged, cols["engaged_n"])
    for c, v in per_minute.items():
        out[c] = np.where(minute_day, k * v, cols[c])
    out["minutes"] = k
    out["sessions"] = np.where(minute_day, np.ceil(k / plan.lesson_minutes), 1).astype(np.int64)
    return out


def create_classes(org: Any, count: int) -> list[int]:
    from wellbeing.models import Classroom

    Classroom.objects.bulk_create(
        Classroom(organization=org, name=f"C{i:04d}") for i in range(count)
    )
    rows = Classroom.objects.filter(organization=org).order_by("pk")
    return list(rows.values_list("pk", flat=True))


def copy_participants(org: Any, participants: int, class_ids: list[int]) -> list[int]:
    """Participants (25 a class, aged 16-17) with their own grant of both scopes (active for
    emotion analysis); returns their ids."""
    from alerts.models import Rule
    from consent.models import ConsentNotice, ConsentRecord
    from wellbeing.models import Participant

    Rule.objects.filter(organization=org).update(mode="active")
    notice = ConsentNotice.objects.create(organization=org, version=1, title="t", text="t")
    now = dt.datetime.now(dt.UTC).isoformat()
    # In the 16-17 band, their own grant of emotion analysis counts under the school's UK rules.
    copy_rows(
        Participant._meta.db_table,
        ["organization_id", "pseudonym", "full_name", "grade", "age_band", "created_at"],
        [f"{org.pk}\tB-{i:08d}\tBench Student {i}\t7\t16-17\t{now}\n" for i in range(participants)],
    )
    pids = list(
        Participant.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
    )
    through = Participant.classrooms.through._meta.db_table
    copy_rows(through, ["participant_id", "classroom_id"],
              [f"{pid}\t{class_ids[i // CLASS_SIZE]}\n" for i, pid in enumerate(pids)])  # fmt: skip
    copy_rows(
        ConsentRecord._meta.db_table,
        ["participant_id", "notice_id", "scopes", "decision", "given_by", "evidence_reference",
         "evidence_date", "recorded_at", "withdrawal_note"],
        [f'{pid}\t{notice.pk}\t["emotion_analysis", "face_template"]\tgrant\tstudent\tbench\t'
         f"2026-01-01\t{now}\t\n" for pid in pids],
    )  # fmt: skip
    return pids


def copy_rollups(
    org: Any, cols: dict[str, np.ndarray], pids: list[int], calendar: list[dt.date]
) -> int:
    """One DailyRollup row per kept student-day; returns the row count."""
    from capture.models import DailyRollup

    days = [d.isoformat() for d in calendar]
    zero = [0.0] * cols["n"].size
    lines = [
        f"{org.pk}\t{pids[p]}\t{days[d]}\t{n}\t" + "\t".join(f"{v:.4f}" for v in s)
        + f"\t{e}\t{n}\t0\t{m}\t{sessions}\n"
        for p, d, n, e, m, sessions, *s in zip(
            cols["participant"].tolist(), cols["day"].tolist(), cols["n"].tolist(),
            cols["engaged_n"].tolist(), cols["minutes"].tolist(), cols["sessions"].tolist(),
            *[cols[c].tolist() if c in cols else zero for c in SUMS], strict=True,
        )
    ]  # fmt: skip
    copy_rows(
        DailyRollup._meta.db_table,
        ["organization_id", "participant_id", "day", "n", *SUMS, "engaged_n",
         "engagement_known_n", "quality_sum", "minutes_observed", "sessions"],
        lines,
    )  # fmt: skip
    return len(lines)


def lesson_start(day: dt.date, lesson: int, plan: MinutePlan) -> dt.datetime:
    first = dt.datetime.combine(day, FIRST_LESSON, tzinfo=dt.UTC)  # the bench school is on UTC
    return first + dt.timedelta(minutes=lesson * (plan.lesson_minutes + BREAK_MINUTES))


def create_sessions(
    class_ids: list[int], calendar: list[dt.date], plan: MinutePlan
) -> dict[tuple[int, int, int], int]:
    """Ended classroom sessions for every minute day (bulk_create keeps up with model changes)."""
    from capture.models import ClassSession, SessionStatus

    keys = [(c, d, lesson) for d in range(plan.first_minute_day, plan.days)
            for c in range(len(class_ids)) for lesson in range(plan.lessons)]  # fmt: skip
    length = dt.timedelta(minutes=plan.lesson_minutes)
    starts = [lesson_start(calendar[d], lesson, plan) for _, d, lesson in keys]
    made = ClassSession.objects.bulk_create(
        (
            ClassSession(
                classroom_id=class_ids[c],
                title=f"Lesson {lesson + 1}",
                status=SessionStatus.ENDED,
                started_at=start,
                ended_at=start + length,
            )
            for (c, _, lesson), start in zip(keys, starts, strict=True)
        ),
        batch_size=5000,
    )
    return {key: session.pk for key, session in zip(keys, made, strict=True)}


def attended_lessons(school: BenchSchool, day: int) -> Iterator[tuple[int, int, int, int]]:
    """(student-day row, lesson, session id, minutes observed) of every lesson a student
    attended on one school day (index into the calendar): the day's minutes fill the lessons
    in order."""
    cols, plan = school.cols, school.plan
    for i in np.flatnonzero(cols["day"] == day).tolist():
        left = int(cols["k"][i])
        for lesson in range(plan.lessons):
            taken = min(left, plan.lesson_minutes)
            if taken <= 0:
                break
            yield i, lesson, school.sessions[(int(cols["classroom"][i]), day, lesson)], taken
            left -= taken


def minute_stamps(school: BenchSchool, day: int) -> list[list[str]]:
    """Per lesson of the day, the COPY text of its minutes."""
    plan, step = school.plan, dt.timedelta(minutes=1)
    starts = [lesson_start(school.calendar[day], lesson, plan) for lesson in range(plan.lessons)]
    return [
        [f"{start + i * step:%Y-%m-%d %H:%M}:00+00" for i in range(plan.lesson_minutes)]
        for start in starts
    ]


def minute_lines(school: BenchSchool, day: int) -> Iterator[str]:
    """COPY lines of every minute row of one school day (index into the calendar)."""
    cols, stamps = school.cols, minute_stamps(school, day)
    for i, lesson, session, taken in attended_lessons(school, day):
        sums = "\t".join(f"{cols['m_' + c][i]:.4f}" if "m_" + c in cols else "0" for c in SUMS)
        tail = f"\t{PER_MINUTE}\t{sums}\t{cols['m_engaged'][i]}\t{PER_MINUTE}\t0\n"
        head = f"{school.org.pk}\t{school.pids[int(cols['participant'][i])]}\t{session}\t"
        yield from (head + stamp + tail for stamp in stamps[lesson][:taken])


def session_total_lines(school: BenchSchool, day: int) -> Iterator[str]:
    """COPY lines of the SessionTotal rows of one school day: each the sum of its minute rows
    (``taken`` rows of the same per-minute values), first minute and local day included."""
    cols, stamps = school.cols, minute_stamps(school, day)
    local_day = school.calendar[day].isoformat()  # the bench school is on UTC
    for i, lesson, session, taken in attended_lessons(school, day):
        # per-minute values are already rounded to what the minute rows' COPY text holds
        sums = "\t".join(f"{taken * cols['m_' + c][i]:.6f}" if "m_" + c in cols else "0"
                         for c in SUMS)  # fmt: skip
        n, engaged = taken * PER_MINUTE, taken * int(cols["m_engaged"][i])
        head = f"{school.org.pk}\t{school.pids[int(cols['participant'][i])]}\t{session}\t"
        yield head + f"{stamps[lesson][0]}\t{local_day}\t{n}\t{sums}\t{engaged}\t{n}\t0\t{taken}\n"


MINUTE_COLUMNS = ["organization_id", "participant_id", "session_id", "minute", "n", *SUMS,
                  "engaged_n", "engagement_known_n", "quality_sum"]  # fmt: skip
TOTAL_COLUMNS = ["organization_id", "participant_id", "session_id", "first_minute", "day", "n",
                 *SUMS, "engaged_n", "engagement_known_n", "quality_sum",
                 "minutes_observed"]  # fmt: skip


def load_minute_days(school: BenchSchool, days: list[int]) -> tuple[int, int]:
    """COPY the minute rows and session totals of ``days`` (calendar indexes), one COPY per day
    and table; returns (minute rows, session totals)."""
    from capture.models import MinuteAggregate, SessionTotal

    minutes, totals = MinuteAggregate._meta.db_table, SessionTotal._meta.db_table
    minute_rows = total_rows = 0
    with bulk_load_mode(minutes), bulk_load_mode(totals):
        for day in days:
            minute_rows += copy_lines(minutes, MINUTE_COLUMNS, minute_lines(school, day))
            total_rows += copy_lines(totals, TOTAL_COLUMNS, session_total_lines(school, day))
    return minute_rows, total_rows


def copy_lines(table: str, columns: list[str], lines: Iterator[str]) -> int:
    loaded = list(lines)
    copy_rows(table, columns, loaded)
    return len(loaded)


@contextlib.contextmanager
def bulk_load_mode(table: str) -> Iterator[None]:
    """Load ``table`` without its secondary indexes and foreign-key checks, then rebuild them.

    Only for the benchmark's own generated, consistent rows: maintaining the minute table's
    secondary indexes (7 then, 4 since migration capture 0004) and 3 foreign-key triggers row by
    row made COPY ~8x slower (57k instead of 450k rows/s). Afterwards every index and constraint
    is back, as migrations made them.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")  # no FK triggers
        try:
            yield
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def rollup_mismatches(school: BenchSchool, sample: int = 200) -> int:
    """Minute-day rollups of the first ``sample`` students that differ from the sum of their
    minute rows, or have none (0 expected once every minute day is loaded; one query)."""
    from django.db import connection

    first_day = school.calendar[school.plan.first_minute_day]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM capture_dailyrollup r LEFT JOIN (
                SELECT participant_id, minute::date AS day, sum(n) AS n, sum(s_sad) AS sad,
                       sum(engaged_n) AS engaged, count(*) AS minutes
                FROM capture_minuteaggregate WHERE participant_id = ANY(%s) GROUP BY 1, 2
            ) m ON m.participant_id = r.participant_id AND m.day = r.day
            WHERE r.participant_id = ANY(%s) AND r.day >= %s AND (m.n IS NULL OR r.n <> m.n
               OR abs(r.s_sad - m.sad) > 0.01 OR r.engaged_n <> m.engaged
               OR r.minutes_observed <> m.minutes)
            """,
            [school.pids[:sample], school.pids[:sample], first_day],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else -1


def session_total_mismatches(school: BenchSchool, sample: int = 200) -> int:
    """Session totals of the first ``sample`` students that differ from the sum of their minute
    rows of that session, or exist on one side only (0 expected; one query)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT * FROM capture_sessiontotal WHERE participant_id = ANY(%s)
            ) t FULL JOIN (
                SELECT participant_id, session_id, sum(n) AS n, sum(s_sad) AS sad,
                       sum(engaged_n) AS engaged, count(*) AS minutes, min(minute) AS first
                FROM capture_minuteaggregate WHERE participant_id = ANY(%s) GROUP BY 1, 2
            ) m ON m.participant_id = t.participant_id AND m.session_id = t.session_id
            WHERE t.id IS NULL OR m.n IS NULL OR t.n <> m.n OR abs(t.s_sad - m.sad) > 0.01
               OR t.engaged_n <> m.engaged OR t.minutes_observed <> m.minutes
               OR t.first_minute <> m.first
            """,
            [school.pids[:sample], school.pids[:sample]],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else -1
