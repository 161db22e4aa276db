"""Session windows: minute aggregates summed per class session, judged after the session ends."""

from __future__ import annotations

import datetime as dt

from alerts.models import Alert
from alerts.tasks import evaluate_session_task
from alerts.workflow import create_rule
from capture.models import MinuteAggregate
from tests.alerts.series import school_days, write_series
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, ClassSession, Organization, Participant


def write_session(
    classroom: Classroom, day: dt.date, negatives: dict[Participant, float], minutes: int = 30
) -> ClassSession:
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
    return session


def test_session_rule_alerts_the_sad_student_after_the_session(
    school: Organization, classroom: Classroom, pupils: list[Participant]
) -> None:
    # given: a session-window rule (3 of 5 days, class-session median + 0.1, no baseline)
    create_rule(
        AuditContext.system(school), "session-negative", name="Negative in class sessions",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=0, class_margin=0.1, persistence_m=3, persistence_d=5, mode="active",
    )  # fmt: skip
    days = school_days(5)
    write_series(pupils, days, 0.15)  # the school days
    sessions = [
        write_session(classroom, day, {p: (0.7 if p == pupils[0] and i % 2 == 0 else 0.15)
                                       for p in pupils})
        for i, day in enumerate(days)
    ]  # fmt: skip
    # when: the pipeline reports the last session ended (twice: a redelivered message)
    first = evaluate_session_task.delay(sessions[-1].pk).get()
    second = evaluate_session_task.delay(sessions[-1].pk).get()
    # then: one alert for the student, its evidence naming the sessions
    alert = Alert.objects.get(rule_slug="session-negative")
    assert first == {"raised": 1, "cleared": 0} and second == {"raised": 0, "cleared": 0}
    assert alert.participant == pupils[0]
    abnormal = [w["window"] for w in alert.evidence["windows"] if w["abnormal"]]
    assert abnormal == [f"session {sessions[i].pk}" for i in (0, 2, 4)]
