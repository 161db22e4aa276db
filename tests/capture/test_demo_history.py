"""The demo history generator (capture.demo_history): deterministic, school-shaped, consent
respected. Pure functions over a roster; no database."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from zoneinfo import ZoneInfo

from capture.demo import RosterEntry
from capture.demo_history import (
    COLUMNS,
    FRAMES_PER_MINUTE,
    LESSON_MINUTES,
    LESSONS_PER_DAY,
    PERIODS,
    PLANTED,
    DemoHistory,
    negative_share,
    plan_history,
)

LONDON = ZoneInfo("Europe/London")
LAST_DAY = dt.date(2026, 3, 26)  # a Thursday


def roster() -> list[RosterEntry]:
    """Three classes of 22 keyed as capture.demo keys them; the last two have no consent."""
    entries = []
    for c, name in enumerate(("Year 9 Drama", "Year 9 History", "Year 10 Science")):
        for i in range(22):
            pid = 100 * c + i
            entries.append(RosterEntry(f"{name}#{i:02d}", pid, c + 1, consented=i < 20))
    return entries


@functools.cache
def eight_weeks() -> DemoHistory:
    """The history of roster(), generated once for the tests that only read it."""
    return plan_history(roster(), LAST_DAY, LONDON, weeks=8)


def daily_shares(history: DemoHistory, key: str) -> dict[dt.date, float]:
    sums: dict[dt.date, list[float]] = defaultdict(lambda: [0.0] * len(COLUMNS))
    for _, minute, values in history.students[key].minutes:
        day = sums[minute.astimezone(LONDON).date()]
        for i, value in enumerate(values):
            day[i] += value
    return {day: negative_share(values) for day, values in sums.items()}


def test_same_seed_gives_the_same_history_and_another_seed_another() -> None:
    # given the same roster and calendar
    # when the history is generated twice with one seed and once with another
    first = plan_history(roster()[:22], LAST_DAY, LONDON, seed=5, weeks=8)
    again = plan_history(roster()[:22], LAST_DAY, LONDON, seed=5, weeks=8)
    other = plan_history(roster()[:1], LAST_DAY, LONDON, seed=6, weeks=8)
    # then the first two are identical, minute for minute, and the third is not
    assert first.lessons == again.lessons
    assert {k: s.minutes for k, s in first.students.items()} == {
        k: s.minutes for k, s in again.students.items()
    }
    assert first.students["Year 9 Drama#00"].minutes != other.students["Year 9 Drama#00"].minutes


def test_history_has_school_days_lessons_and_minutes_of_a_real_timetable() -> None:
    # when eight weeks are generated
    history = eight_weeks()
    # then there are 40 school days, weekdays only, ending on the last day
    assert len(history.calendar) == 40 and history.calendar[-1] == LAST_DAY
    assert all(day.weekday() < 5 for day in history.calendar)
    # and each class has two lessons a day, starting at a period of the timetable
    assert len(history.lessons) == 40 * 3 * LESSONS_PER_DAY
    assert {lesson.start.astimezone(LONDON).time() for lesson in history.lessons} <= set(PERIODS)
    for student in history.students.values():
        for index, minute, values in student.minutes:
            lesson = history.lessons[index]
            # every minute lies inside its lesson, on a weekday, with at most 6 frames
            assert lesson.start <= minute < lesson.start + dt.timedelta(minutes=LESSON_MINUTES)
            assert minute.astimezone(LONDON).weekday() < 5
            assert 1 <= values[0] <= FRAMES_PER_MINUTE
            # and the seven expression probabilities of each frame sum to one
            assert abs(sum(values[1:8]) - values[0]) < 1e-4
            assert 0 <= values[8] <= values[0] == values[9]


def test_students_have_own_baselines_absences_and_missing_minutes() -> None:
    # given eight weeks of history
    history = eight_weeks()
    # when the ordinary (not planted) students' days are summed
    ordinary = [k for k in history.students if k not in PLANTED]
    days_present = {k: len(daily_shares(history, k)) for k in ordinary}
    means = sorted(
        sum(s.values()) / len(s) for s in map(lambda k: daily_shares(history, k), ordinary)
    )
    # then some students miss days, nobody misses most of them
    assert min(days_present.values()) >= 30 and sum(d < 40 for d in days_present.values()) >= 10
    # and baselines differ between students (not one school-wide number)
    assert means[-1] - means[0] > 0.08
    # and a lesson is never fully observed by everyone (turned faces, late arrivals)
    full = LESSON_MINUTES * LESSONS_PER_DAY * 40
    assert all(len(history.students[k].minutes) < full for k in ordinary)


def test_students_without_consent_get_no_data_at_all() -> None:
    # given a roster with two students per class without consent
    # when the history is generated
    history = eight_weeks()
    # then they have no minute at all, and everyone else has
    refused = {e.key for e in roster() if not e.consented}
    assert refused and not refused & set(history.students)
    assert len(history.students) == 60


def test_planted_students_are_persistently_negative_on_their_days_only() -> None:
    # given eight weeks of history
    history = eight_weeks()
    # when the planted students' days are summed
    for key, plant in PLANTED.items():
        shares = daily_shares(history, key)
        days = history.calendar[::-1]
        planted = [days[i] for i in range(plant.ends_before, plant.ends_before + plant.days)]
        # then every planted day is above the rule's threshold 0.45, no other day near it
        assert all(shares[d] > 0.45 for d in planted), key
        assert all(v < 0.4 for d, v in shares.items() if d not in planted), key
    ordinary = [k for k in history.students if k not in PLANTED]
    assert max(max(daily_shares(history, k).values()) for k in ordinary) < 0.45
