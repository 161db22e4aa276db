"""Replay (dry run) over generated and stored series."""

from __future__ import annotations

import datetime as dt
from io import StringIO

from django.core.management import call_command

from alerts.management.commands.replay_alerts import default_spec
from alerts.models import Alert
from alerts.replay import generate_series, iso_week, replay_rules
from tests.time_series import school_days, write_day, write_series
from wellbeing.models import Organization, Participant


def test_replay_finds_planted_episodes_and_ignores_class_wide_dips() -> None:
    # given: a generated school of 400 students over 60 school days
    generated = generate_series(400, 60, dt.date(2026, 1, 5), seed=11)
    days = generated.bundle.school_days
    # when
    counts = replay_rules([default_spec("sustained-negative")], generated.bundle, days[0], days[-1])
    # then: alerts only for students with an episode, and in the week the episode ran
    alerted = {int(label) for label, _, _ in counts}
    assert generated.episodes and alerted <= set(generated.episodes)
    assert len(alerted) >= 0.8 * len(generated.episodes)
    for (label, week, _), count in counts.items():
        assert count == 1
        assert week in {iso_week(d) for d in generated.episodes[int(label)]}


def test_replay_command_over_stored_series_writes_nothing(
    school: Organization, pupils: list[Participant]
) -> None:
    # given: a stored series with one student sad in the last week
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.65)
    out = StringIO()
    # when
    call_command(
        "replay_alerts",
        org=school.slug,
        rule=["sustained-negative"],
        start=days[15],
        end=days[24],
        stdout=out,
    )
    # then: one line for that student and week, and no alert stored
    lines = [line for line in out.getvalue().splitlines() if pupils[0].pseudonym in line]
    assert len(lines) == 1 and "sustained-negative" in lines[0]
    assert "total: 1 alerts for 1 students" in out.getvalue()
    assert not Alert.objects.exists()
