"""Fixtures and helpers shared by the alert tests: a consented class, the seeded rules, an
alert raised the usual way, quiet hours, a rule's edit form, a finished session's minutes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.evaluation import evaluate_organization
from alerts.models import Alert, AlertPolicy, Rule
from capture.models import ClassSession, MinuteAggregate
from tests.time_series import (
    make_class,
    school_days,
    total_minute_rows,
    write_day,
    write_series,
)
from wellbeing.celery import app as celery_app
from wellbeing.models import Classroom, Organization, Participant, StaffMember


@pytest.fixture
def notice_published(notice: Any) -> Any:
    return notice


@pytest.fixture
def pupils(
    school: Organization, classroom: Classroom, counselor: StaffMember, notice_published: Any
) -> list[Participant]:
    """Six consented students of 7B, all on the counselor's caseload."""
    return make_class(school, classroom, 6, counselor=counselor)


@pytest.fixture
def negative_rule(school: Organization) -> Rule:
    """The seeded default: negative share, 3 of 5 days, baseline + class comparison."""
    return Rule.objects.current().get(organization=school, slug="sustained-negative")


@pytest.fixture
def eager_retries() -> Iterator[None]:
    """In-process tasks that propagate exceptions also propagate Celery's Retry; without
    propagation Celery runs the retry at once (countdown skipped), as a worker would later."""
    before = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        celery_app.conf.task_eager_propagates = before


def raise_alert_for(school: Organization, pupils: list[Participant], captured: Any) -> Alert:
    """Given: pupils[0] sad on the last 5 of 25 school days; evaluate on the last day."""
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.65)
    with captured(execute=True):
        evaluate_organization(school, as_of=days[24])
    return Alert.objects.get()


def quiet_hours_around_now(school: Organization, **policy: Any) -> None:
    """Quiet hours from an hour before to two hours after the current local time.

    The e-mail tasks run on the real clock, so a fixed window such as 00:00-23:59 would not
    hold in the minute before local midnight; this one (wrapping past midnight when needed)
    always contains the moment of the test.
    """
    local = dt.datetime.now(school.tzinfo).replace(second=0, microsecond=0)
    AlertPolicy.objects.filter(organization=school).update(
        quiet_start=(local - dt.timedelta(hours=1)).time(),
        quiet_end=(local + dt.timedelta(hours=2)).time(),
        **policy,
    )


def rule_post(rule: Rule, **changes: object) -> dict[str, object]:
    """The edit form as the browser submits it: every field, some changed."""
    fields = {
        name: getattr(rule, name)
        for name in (
            "name", "description", "signal", "emotion", "window", "threshold",
            "clear_threshold", "baseline_weeks", "baseline_margin", "class_margin",
            "min_minutes", "persistence_m", "persistence_d", "clear_after_days",
            "cooldown_days", "severity", "mode",
        )
    }  # fmt: skip
    fields.update(changes)
    return {k: "" if v is None else v for k, v in fields.items()}


def write_session(
    classroom: Classroom, day: dt.date, negatives: dict[Participant, float], minutes: int = 30
) -> ClassSession:
    """An ended 09:00-10:00 UTC lesson of ``classroom`` on ``day``: ``minutes`` minute rows
    per student with the given sad (negative) share, and their session totals."""
    start = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    session = ClassSession.objects.create(
        classroom=classroom,
        status="ended",
        started_at=start,
        ended_at=start + dt.timedelta(hours=1),
    )
    MinuteAggregate.objects.bulk_create(
        MinuteAggregate(
            organization_id=student.organization_id,
            participant=student,
            session=session,
            minute=start + dt.timedelta(minutes=m),
            n=6,
            s_sad=6 * negative,
            s_neutral=6 * (1 - negative),
        )
        for student, negative in negatives.items()
        for m in range(minutes)
    )
    total_minute_rows(session)
    return session
