"""`manage.py seed_demo` (alerts.demo_school): the demo school with weeks of synthetic
history, and the alerts the real rule engine raises on it; safe to run again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from alerts.demo_school import DemoSeedReport, reset_demo_school, seed_demo
from alerts.models import Alert, AlertEvent
from capture.demo import SYNTHETIC_CLASSES, synthetic_names
from capture.demo_history import PLANTED
from capture.models import DailyRollup, MinuteAggregate, SessionTotal
from dashboard.reports import weekly_trends
from wellbeing.demo_school import DEMO_SLUG
from wellbeing.models import Organization, Participant

TODAY = dt.date(2026, 3, 27)  # a Friday: the history ends on Thursday
SEED = 17


@pytest.fixture(scope="module")
def seeded(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[DemoSeedReport]:
    """The demo school seeded once for this module (seeding takes a while) with eight weeks,
    without the shared photos (three fallback people in the demo classroom); deleted after."""
    folder = tmp_path_factory.mktemp("demo")
    with django_db_blocker.unblock(), override_settings(DATA_DIR=folder):
        report = seed_demo(folder / "no-photos", seed=SEED, weeks=8, today=TODAY)
    yield report
    with django_db_blocker.unblock(), override_settings(DATA_DIR=folder):
        reset_demo_school()


@pytest.fixture
def demo(seeded: DemoSeedReport, db: Any, tmp_path: Path, settings: Any) -> DemoSeedReport:
    """The seeded demo school; each test's changes are rolled back."""
    settings.DATA_DIR = tmp_path
    return seeded


def planted_names() -> dict[str, str]:
    """Planted roster key -> the synthetic student's name (names are drawn in roster order)."""
    names = iter(synthetic_names(SEED, sum(size for _, _, size in SYNTHETIC_CLASSES)))
    keys = [f"{c}#{i:02d}" for c, _, size in SYNTHETIC_CLASSES for i in range(size)]
    by_key = dict(zip(keys, names, strict=True))
    return {key: by_key[key] for key in PLANTED}


def row_counts() -> dict[str, int]:
    models = (Participant, MinuteAggregate, DailyRollup, SessionTotal, Alert, AlertEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_rules_raise_alerts_for_the_planted_students_only(demo: DemoSeedReport) -> None:
    # given the demo school seeded with its history (the fixture)
    # when the alerts the evaluation raised are read
    alerts = {a.participant.full_name: a for a in Alert.objects.select_related("participant")}
    names = planted_names()
    # then exactly the planted students have one, through the active default rule
    assert set(alerts) == set(names.values())
    assert {a.rule_slug for a in alerts.values()} == {"sustained-negative"}
    assert all(a.evidence["abnormal_days"] for a in alerts.values())
    # and the recent ones are still standing, the one of five weeks ago recovered
    recovered = alerts[names["Year 9 Drama#02"]]
    assert recovered.cleared_at is not None
    for key in ("Year 9 History#04", "Year 10 Science#09"):
        alert = alerts[names[key]]
        assert alert.cleared_at is None and alert.window_end >= TODAY - dt.timedelta(days=8)
    assert demo.raised == 3 and demo.cleared == 1


def test_history_covers_consented_students_only_and_fills_the_reports(
    demo: DemoSeedReport,
) -> None:
    org = Organization.objects.get(slug=DEMO_SLUG)
    # given three classes of 20+ students, two per class without consent
    assert demo.students == 3 + sum(size for _, _, size in SYNTHETIC_CLASSES)
    assert demo.students - demo.consented == 2 * len(SYNTHETIC_CLASSES)
    # when the stored series are read
    with_data = set(DailyRollup.objects.values_list("participant_id", flat=True))
    without_consent = Participant.objects.filter(organization=org).exclude(
        consent_records__decision="grant"
    )
    # then nobody without consent has a row, and every consented student has
    assert without_consent.count() == demo.students - demo.consented
    assert not with_data & set(without_consent.values_list("pk", flat=True))
    assert len(with_data) == demo.consented
    assert not MinuteAggregate.objects.filter(minute__date__gte=TODAY).exists()
    # and the classroom report shows every class and week, none suppressed
    rows = weekly_trends(org, TODAY, weeks=8, by="classroom")
    assert {r.group for r in rows} == {name for name, _, _ in SYNTHETIC_CLASSES}
    assert len(rows) == 3 * 8 and not any(r.suppressed for r in rows)


def test_seeding_again_changes_nothing_and_reset_recreates_the_same_history(
    demo: DemoSeedReport, tmp_path: Path
) -> None:
    # given the seeded demo school
    before = row_counts()
    shares = sorted(DailyRollup.objects.values_list("s_sad", flat=True))
    # when seed_demo runs again, then with --reset
    again = seed_demo(tmp_path / "no-photos", seed=SEED, weeks=8, today=TODAY)
    assert not again.history_created and row_counts() == before
    seed_demo(tmp_path / "no-photos", seed=SEED, weeks=8, today=TODAY, reset=True)
    # then the recreated school has the same numbers
    assert row_counts() == before
    assert sorted(DailyRollup.objects.values_list("s_sad", flat=True)) == shares
    assert Organization.objects.filter(slug=DEMO_SLUG).count() == 1


def test_seed_demo_command_ends_with_the_sign_ins(demo: DemoSeedReport, tmp_path: Path) -> None:
    # given the seeded demo school
    out = StringIO()
    # when the command runs again
    call_command("seed_demo", "--faces", str(tmp_path / "no-photos"), stdout=out)
    # then it says nothing changed and prints every sign-in last
    lines = out.getvalue().strip().splitlines()
    assert "nothing changed" in out.getvalue()
    assert [line.split()[0] for line in lines[-3:]] == ["admin", "counselor", "teacher"]
    assert "demo-counselor-pass" in lines[-2]
