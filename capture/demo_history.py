"""The demo school's history: weeks of synthetic per-minute data, seeded and documented.

Plain numbers the worker would have stored had the demo school's cameras run for weeks
(docs/demo.md): ended class sessions, MinuteAggregate rows, and the DailyRollup and SessionTotal
rows that are exactly their sums, as capture.timeseries keeps them. Nothing here decides about
alerts: the alert rules judge this history like any other (alerts.demo_school).

The model, per student (a stable key, see capture.demo.RosterEntry) and school day:

* weekdays only, ending on the last school day before today; two 50-minute lessons a day per
  class in the periods of a fixed timetable (the demo's cameras are in those classrooms);
* each student has their own baseline (negative-affect share around 0.17, happiness, attention,
  how often they are away), so the rule engine has personal baselines to compare with;
* day effects (Mondays a little lower, Fridays a little brighter, one mock-exam day that
  every class finds hard), lesson effects (attention dips after lunch), noise per day and
  per minute; a minute has 6 frames (one every 10 s), fewer when the face was turned away;
* absences (whole days), late arrivals, minutes nobody could read;
* no data at all for a student without consent;
* PLANTED: a few students with a sustained negative pattern for the rule engine to find.

Deterministic: the numbers depend only on the seed, the students' keys and the calendar.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from capture.demo import RosterEntry
from capture.models import ClassSession, DailyRollup, MinuteAggregate, SessionStatus, SessionTotal
from capture.timeseries import db_datetime
from wellbeing.models import Organization, Participant

DEFAULT_SEED = 17
DEFAULT_WEEKS = 10
FRAMES_PER_MINUTE = 6  # one frame every 10 s
LESSON_MINUTES = 50
# Local start of each period; lunch is between the 4th and the 5th.
PERIODS: tuple[dt.time, ...] = (
    dt.time(8, 50), dt.time(9, 45), dt.time(11, 5), dt.time(12, 0), dt.time(13, 35), dt.time(14, 30)
)  # fmt: skip
AFTER_LUNCH = 4
LESSONS_PER_DAY = 2
MOCK_EXAM_DAY = 32  # school days before the end: the day every class found hard
NEGATIVE = ("angry", "disgust", "fear", "sad")
COLUMNS = ("n", "s_angry", "s_disgust", "s_fear", "s_happy", "s_neutral", "s_sad", "s_surprise",
           "engaged_n", "engagement_known_n", "quality_sum")  # fmt: skip


@dataclass(frozen=True)
class Plant:
    """A planted pattern: ``extra`` negative-affect share on ``days`` school days ending
    ``ends_before`` school days before the last one (0: the last day itself)."""

    name: str
    extra: float
    days: int
    ends_before: int = 0

    def covers(self, days_before_end: int) -> bool:
        return self.ends_before <= days_before_end < self.ends_before + self.days


# Who is planted, by roster key (capture.demo.SYNTHETIC_CLASSES): docs/demo.md says what the
# rule "Sustained negative affect" should make of each.
PLANTED: dict[str, Plant] = {
    "Year 9 History#04": Plant("sustained, this week", extra=0.42, days=5),
    "Year 10 Science#09": Plant("sustained, since last week", extra=0.42, days=8),
    "Year 9 Drama#02": Plant("an episode five weeks ago, recovered", extra=0.42, days=6,
                             ends_before=20),
}  # fmt: skip


@dataclass(frozen=True)
class Lesson:
    """One class session of the history: its classroom, local day, period and UTC start."""

    classroom_id: int
    day: dt.date
    period: int
    start: dt.datetime


@dataclass
class StudentHistory:
    """The generated minutes of one student: (lesson index, UTC minute, COLUMNS values)."""

    participant_id: int
    minutes: list[tuple[int, dt.datetime, tuple[float, ...]]] = field(default_factory=list)


@dataclass
class DemoHistory:
    calendar: list[dt.date]
    lessons: list[Lesson]
    students: dict[str, StudentHistory]

    @property
    def minute_rows(self) -> int:
        return sum(len(s.minutes) for s in self.students.values())


def school_calendar(last_day: dt.date, weeks: int) -> list[dt.date]:
    """The weekdays of the ``weeks`` weeks ending on ``last_day``."""
    first = last_day - dt.timedelta(weeks=weeks) + dt.timedelta(days=1)
    days = (first + dt.timedelta(days=i) for i in range((last_day - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def last_school_day_before(today: dt.date) -> dt.date:
    day = today - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def timetable(classroom_ids: Sequence[int], calendar: list[dt.date], tz: dt.tzinfo) -> list[Lesson]:
    """LESSONS_PER_DAY lessons per class and day; the periods rotate with the weekday."""
    lessons = []
    for day in calendar:
        for c, classroom_id in enumerate(classroom_ids):
            first = (2 * c + day.weekday()) % len(PERIODS)
            for period in sorted({first, (first + 3) % len(PERIODS)}):
                local = dt.datetime.combine(day, PERIODS[period], tzinfo=tz)
                lessons.append(Lesson(classroom_id, day, period, local.astimezone(dt.UTC)))
    return lessons


def plan_history(
    roster: Sequence[RosterEntry],
    last_day: dt.date,
    tz: dt.tzinfo,
    seed: int = DEFAULT_SEED,
    weeks: int = DEFAULT_WEEKS,
) -> DemoHistory:
    """Generate the history of ``roster`` (pure: no database). Students without consent get
    nothing; the classrooms' order is the roster's."""
    calendar = school_calendar(last_day, weeks)
    classrooms = list(dict.fromkeys(entry.classroom_id for entry in roster))
    lessons = timetable(classrooms, calendar, tz)
    by_class: dict[int, list[int]] = {}
    for index, lesson in enumerate(lessons):
        by_class.setdefault(lesson.classroom_id, []).append(index)
    history = DemoHistory(calendar, lessons, {})
    school = day_effects(seed, calendar)
    for entry in roster:
        if entry.consented:
            student = StudentModel(seed, entry.key, school)
            own = [lessons[i] for i in by_class[entry.classroom_id]]
            indexes = by_class[entry.classroom_id]
            history.students[entry.key] = StudentHistory(
                entry.participant_id, list(student.minutes(own, indexes, calendar))
            )
    return history


def day_effects(seed: int, calendar: list[dt.date]) -> dict[dt.date, float]:
    """The whole school's negative-affect shift per day (weekday, mock exam, small noise)."""
    rng = random.Random(f"{seed}:school")
    exam = calendar[-1 - MOCK_EXAM_DAY] if len(calendar) > MOCK_EXAM_DAY else None
    weekday = {0: 0.02, 4: -0.015}
    return {
        day: weekday.get(day.weekday(), 0.0) + rng.gauss(0, 0.01) + (0.14 if day == exam else 0.0)
        for day in calendar
    }


class StudentModel:
    """One student's personal numbers and their minutes (see the module docstring)."""

    def __init__(self, seed: int, key: str, school: dict[dt.date, float]) -> None:
        self.rng = random.Random(f"{seed}:{key}")
        rng = self.rng
        self.plant = PLANTED.get(key)
        self.school = school
        self.negative = min(max(rng.gauss(0.17, 0.04), 0.06), 0.30)
        self.happy = min(max(rng.gauss(0.22, 0.06), 0.08), 0.40)
        self.attention = min(max(rng.gauss(0.82, 0.06), 0.6), 0.95)
        self.away = rng.uniform(0.02, 0.07)
        weights = [rng.uniform(0.5, 1.5) * w for w in (0.25, 0.05, 0.2, 0.5)]
        self.mix = [w / sum(weights) for w in weights]  # angry, disgust, fear, sad

    def minutes(
        self, lessons: list[Lesson], indexes: list[int], calendar: list[dt.date]
    ) -> Iterator[tuple[int, dt.datetime, tuple[float, ...]]]:
        position = {day: len(calendar) - 1 - i for i, day in enumerate(calendar)}
        today: dt.date | None = None
        absent, shift = False, 0.0
        for lesson, index in zip(lessons, indexes, strict=True):
            planted = self.plant is not None and self.plant.covers(position[lesson.day])
            if lesson.day != today:
                today = lesson.day
                absent = not planted and self.rng.random() < self.away
                shift = self.school[today] + self.rng.gauss(0, 0.025)
                shift += self.plant.extra if planted and self.plant else 0.0
            if not absent:
                yield from self.lesson_minutes(lesson, index, shift, planted)

    def lesson_minutes(
        self, lesson: Lesson, index: int, shift: float, planted: bool
    ) -> Iterator[tuple[int, dt.datetime, tuple[float, ...]]]:
        rng = self.rng
        late = rng.randint(3, 15) if rng.random() < 0.08 else 0
        after_lunch = lesson.period >= AFTER_LUNCH
        attention = self.attention - (0.08 if after_lunch else 0.0) - (0.2 if planted else 0.0)
        for m in range(late, LESSON_MINUTES):
            if rng.random() < 0.07:  # face turned away or hidden the whole minute
                continue
            n = FRAMES_PER_MINUTE - (rng.randint(1, 3) if rng.random() < 0.15 else 0)
            minute = lesson.start + dt.timedelta(minutes=m)
            yield index, minute, self.minute_values(n, shift, attention, after_lunch)

    def minute_values(
        self, n: int, shift: float, attention: float, after_lunch: bool
    ) -> tuple[float, ...]:
        """COLUMNS sums of one minute of ``n`` frames (probabilities sum to 1 per frame)."""
        rng = self.rng
        negative = min(max(self.negative + shift + rng.gauss(0, 0.06), 0.01), 0.92)
        happy = self.happy - 0.5 * max(shift, 0.0) - (0.03 if after_lunch else 0.0)
        happy = min(max(happy + rng.gauss(0, 0.05), 0.01), 0.95 - negative)
        surprise = min(max(rng.gauss(0.03, 0.01), 0.0), 0.99 - negative - happy)
        neutral = 1.0 - negative - happy - surprise
        angry, disgust, fear, sad = (negative * w for w in self.mix)
        engaged = sum(rng.random() < attention for _ in range(n))
        quality = n * rng.uniform(0.6, 0.95)
        shares = (angry, disgust, fear, happy, neutral, sad, surprise)
        return (n, *(round(s * n, 6) for s in shares), engaged, n, round(quality, 6))


def write_history(org: Organization, history: DemoHistory) -> dict[str, int]:
    """Store the history: sessions, minute rows and their exact daily and session sums, and
    each student's last_seen_at. One transaction; returns the row counts."""
    with transaction.atomic():
        session_ids = create_sessions(history.lessons)
        minutes = insert_minutes(org, history, session_ids)
        rollups = daily_rollups(org, history)
        DailyRollup.objects.bulk_create(rollups, batch_size=2000)
        totals = session_totals(org, history, session_ids)
        SessionTotal.objects.bulk_create(totals, batch_size=2000)
        for student in history.students.values():
            if student.minutes:
                last = student.minutes[-1][1] + dt.timedelta(seconds=50)
                Participant.objects.filter(pk=student.participant_id).update(last_seen_at=last)
    return {"sessions": len(session_ids), "minutes": minutes, "days": len(rollups)}


def insert_minutes(org: Organization, history: DemoHistory, session_ids: list[int]) -> int:
    """The MinuteAggregate rows: bulk_create, except on SQLite (the demo's database).

    There Django's bulk_create sends 62 rows a statement (999 parameters), and the demo's
    ~260,000 rows took 4-5 times longer than one prepared INSERT run for every row
    (executemany, a C loop in sqlite3). The minute goes through the backend's own datetime
    adaptation, as in capture.timeseries, so ORM lookups match it. On PostgreSQL psycopg's
    executemany is one round trip a row, so bulk_create's multi-row INSERTs win there.
    """
    rows: list[tuple[Any, ...]] = [
        (org.pk, student.participant_id, session_ids[index], minute, *values)
        for student in history.students.values()
        for index, minute, values in student.minutes
    ]
    if connection.vendor != "sqlite":
        fields = ("organization_id", "participant_id", "session_id", "minute", *COLUMNS)
        minutes = (MinuteAggregate(**dict(zip(fields, row, strict=True))) for row in rows)
        MinuteAggregate.objects.bulk_create(minutes, batch_size=2000)
        return len(rows)
    columns = ["organization_id", "participant_id", "session_id", "minute", *COLUMNS]
    sql = (
        f"INSERT INTO {MinuteAggregate._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*row[:3], db_datetime(row[3]), *row[4:]) for row in rows])
    return len(rows)


def create_sessions(lessons: list[Lesson]) -> list[int]:
    """Ended class sessions, one per lesson (ids in the lessons' order)."""
    length = dt.timedelta(minutes=LESSON_MINUTES)
    made = ClassSession.objects.bulk_create(
        (
            ClassSession(
                classroom_id=lesson.classroom_id,
                title=f"Period {lesson.period + 1}",
                status=SessionStatus.ENDED,
                started_at=lesson.start,
                ended_at=lesson.start + length,
                frames_processed=LESSON_MINUTES * FRAMES_PER_MINUTE,
            )
            for lesson in lessons
        ),
        batch_size=1000,
    )
    return [session.pk for session in made]


def add_into(sums: list[float], values: tuple[float, ...]) -> None:
    for i, value in enumerate(values):
        sums[i] += value


def daily_rollups(org: Organization, history: DemoHistory) -> list[DailyRollup]:
    """One row per student and local day: the sums of that day's minutes, minutes observed,
    and the number of class sessions attended."""
    rows = []
    tz = org.tzinfo
    for student in history.students.values():
        days: dict[dt.date, tuple[list[float], set[int], list[int]]] = {}
        for index, minute, values in student.minutes:
            sums, sessions, count = days.setdefault(
                minute.astimezone(tz).date(), ([0.0] * len(COLUMNS), set(), [0])
            )
            add_into(sums, values)
            sessions.add(index)
            count[0] += 1
        rows += [
            DailyRollup(organization=org, participant_id=student.participant_id, day=day,
                        minutes_observed=count[0], sessions=len(sessions),
                        **column_values(sums))
            for day, (sums, sessions, count) in days.items()
        ]  # fmt: skip
    return rows


def session_totals(
    org: Organization, history: DemoHistory, session_ids: list[int]
) -> list[SessionTotal]:
    """One row per student and session: its minutes' sums, first minute and that local day."""
    rows = []
    tz = org.tzinfo
    for student in history.students.values():
        sessions: dict[int, tuple[list[float], list[dt.datetime], list[int]]] = {}
        for index, minute, values in student.minutes:
            sums, _, count = sessions.setdefault(index, ([0.0] * len(COLUMNS), [minute], [0]))
            add_into(sums, values)
            count[0] += 1
        rows += [
            SessionTotal(organization=org, participant_id=student.participant_id,
                         session_id=session_ids[index], first_minute=first[0],
                         day=first[0].astimezone(tz).date(), minutes_observed=count[0],
                         **column_values(sums))
            for index, (sums, first, count) in sessions.items()
        ]  # fmt: skip
    return rows


def column_values(sums: list[float]) -> dict[str, float | int]:
    """COLUMNS as model field values (counts as integers)."""
    values: dict[str, float | int] = dict(zip(COLUMNS, sums, strict=True))
    for name in ("n", "engaged_n", "engagement_known_n"):
        values[name] = round(values[name])
    return values


def negative_share(values: Sequence[float]) -> float:
    """The negative-affect share of COLUMNS sums (for tests and docs)."""
    n = values[0]
    negative = sum(values[1 + COLUMNS[1:].index(f"s_{name}")] for name in NEGATIVE)
    return negative / n if n else math.nan
