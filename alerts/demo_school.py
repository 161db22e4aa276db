"""`manage.py seed_demo`: the demo school complete, with weeks of history and real alerts.

It lives in alerts, the lowest app that can do all of it: the school, its people and consent
come from capture.demo, the synthetic history from capture.demo_history, and the alerts from
the rule engine itself. The history is judged the way the hourly evaluation would have judged it
day after day (alerts.evaluation.evaluate_organization with each school day as ``as_of``); no
alert is ever written here. docs/demo.md describes the generator and what is planted.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction

from alerts.evaluation import evaluate_organization
from alerts.models import Alert, Rule
from capture.demo import (
    SYNTHETIC_CLASSES,
    DemoSummary,
    demo_token_file,
    seed_demo_school,
    seed_synthetic_roster,
)
from capture.demo_history import (
    DEFAULT_SEED,
    DEFAULT_WEEKS,
    last_school_day_before,
    plan_history,
    write_history,
)
from consent.models import ConsentNotice, ConsentRecord
from wellbeing.demo_school import DEMO_SLUG
from wellbeing.models import Classroom, Organization

EVALUATED_AT = dt.time(17, 0)  # local time of each day's evaluation (after the last lesson)


@dataclass
class DemoSeedReport:
    """What seed_demo did; ``history_created`` False means the history was already there."""

    school: DemoSummary
    history_created: bool = False
    students: int = 0
    consented: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    raised: int = 0
    cleared: int = 0
    seconds: float = 0.0


def has_history(org: Organization) -> bool:
    """The synthetic classes exist only once the history was written (one transaction)."""
    return Classroom.objects.filter(organization=org, name=SYNTHETIC_CLASSES[-1][0]).exists()


def seed_demo(
    faces_dir: Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    weeks: int = DEFAULT_WEEKS,
    today: dt.date | None = None,
    reset: bool = False,
) -> DemoSeedReport:
    """Create what is missing of the demo school (safe to repeat: a complete school is left
    as it is). ``reset`` deletes it first, so the history ends yesterday again."""
    started = time.monotonic()
    if reset:
        reset_demo_school()
    report = DemoSeedReport(seed_demo_school(faces_dir))
    org = Organization.objects.get(slug=DEMO_SLUG)
    if not has_history(org):
        with transaction.atomic():
            seed_history(org, report, seed, weeks, today or org.local_today())
    report.seconds = time.monotonic() - started
    return report


def seed_history(
    org: Organization, report: DemoSeedReport, seed: int, weeks: int, today: dt.date
) -> None:
    last_day = last_school_day_before(today)
    consent_day = last_day - dt.timedelta(weeks=weeks + 2)
    roster = seed_synthetic_roster(org, seed, consent_day)
    history = plan_history(roster, last_day, org.tzinfo, seed, weeks)
    report.rows = write_history(org, history)
    report.history_created = True
    report.students = len(roster)
    report.consented = sum(entry.consented for entry in roster)
    report.raised, report.cleared = evaluate_history(org, history.calendar)


def evaluate_history(org: Organization, calendar: list[dt.date]) -> tuple[int, int]:
    """Run the organization's evaluation once per school day, in order, as the scheduled
    evaluation would have (alerts raised and cleared)."""
    raised = cleared = 0
    for day in calendar:
        now = dt.datetime.combine(day, EVALUATED_AT, tzinfo=org.tzinfo).astimezone(dt.UTC)
        result = evaluate_organization(org, as_of=day, now=now)
        raised += len(result.raised)
        cleared += len(result.cleared)
    return raised, cleared


def reset_demo_school() -> bool:
    """Delete the demo school, its staff accounts and the saved device token (``seed_demo
    --reset``); False when there was none. Alerts, rules, consent records and notices first:
    their foreign keys protect them from a cascade (that is their purpose elsewhere)."""
    org = Organization.objects.filter(slug=DEMO_SLUG).first()
    if org is None:
        return False
    with transaction.atomic():
        Alert.objects.filter(organization=org).delete()
        Rule.objects.filter(organization=org).delete()
        ConsentRecord.objects.filter(participant__organization=org).delete()
        ConsentNotice.objects.filter(organization=org).delete()
        User.objects.filter(staff__organization=org).delete()
        org.delete()
    demo_token_file().unlink(missing_ok=True)
    return True
