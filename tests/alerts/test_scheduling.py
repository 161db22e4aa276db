"""When evaluation and e-mail run: Celery beat, the alerts queue, and the end of a session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery.schedules import crontab
from django.conf import settings

from alerts.models import Alert
from alerts.workflow import create_rule
from capture.devices import create_device
from capture.models import MinuteAggregate
from capture.sessions import end_session, start_session
from tests.time_series import total_minute_rows, write_series
from wellbeing.actions import AuditContext
from wellbeing.celery import app as celery_app
from wellbeing.models import Classroom, Organization, Participant

ALERT_TASKS = (
    "send_delivery_task",
    "flush_due_deliveries_task",
    "evaluate_organization_task",
    "evaluate_all_organizations_task",
    "evaluate_session_task",
    "escalate_alerts_task",
    "send_daily_digests_task",
)


def test_beat_evaluates_escalates_flushes_and_digests_on_a_schedule() -> None:
    # given the beat schedule of the settings
    by_task = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    # then: hourly evaluation and digest check, escalation and quiet-hours flush every 5 min
    assert by_task["alerts.tasks.evaluate_all_organizations_task"] == crontab(minute=15)
    assert by_task["alerts.tasks.send_daily_digests_task"] == crontab(minute=0)
    assert by_task["alerts.tasks.escalate_alerts_task"] == crontab(minute="*/5")
    assert by_task["alerts.tasks.flush_due_deliveries_task"] == crontab(minute="*/5")


def test_every_alert_task_runs_on_the_alerts_queue() -> None:
    router = celery_app.amqp.router
    for name in ALERT_TASKS:
        assert f"alerts.tasks.{name}" in celery_app.tasks
        route = router.route({}, f"alerts.tasks.{name}")
        assert route["queue"].name == "alerts", name


def test_ending_a_session_evaluates_its_students(
    school: Organization,
    classroom: Classroom,
    pupils: list[Participant],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: an active session rule that needs one abnormal session (no baseline), a camera
    # session today in which one student is negative and the others calm
    create_rule(
        AuditContext.system(school), "one-session", name="Negative in one session",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=0, class_margin=0.1, persistence_m=1, persistence_d=1, mode="active",
    )  # fmt: skip
    device, _ = create_device(AuditContext.system(school), "7B camera", classroom=classroom)
    session = start_session(device)
    today = school.local_today()
    write_series(pupils, [today], 0.15)
    nine = dt.datetime.combine(today, dt.time(9), tzinfo=school.tzinfo)
    sad = {p: 0.7 if p == pupils[0] else 0.1 for p in pupils}
    MinuteAggregate.objects.bulk_create(
        MinuteAggregate(
            organization=school, participant=p, session=session,
            minute=nine + dt.timedelta(minutes=m), n=6,
            s_sad=6 * sad[p], s_neutral=6 * (1 - sad[p]),
        )
        for p in pupils
        for m in range(30)
    )  # fmt: skip
    total_minute_rows(session)
    assert not Alert.objects.exists()
    # when: the device ends the session (the evaluation task is queued after commit)
    with django_capture_on_commit_callbacks(execute=True):
        end_session(device, session.pk)
    # then: the negative student has an alert citing that session
    alert = Alert.objects.get(rule_slug="one-session")
    assert alert.participant == pupils[0]
    assert [w["window"] for w in alert.evidence["windows"]] == [f"session {session.pk}"]
