"""Two evaluations at the same moment (beat and a session end) still raise one alert."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from alerts.evaluation import EvaluationReport, evaluate_organization
from alerts.models import Alert
from tests.time_series import school_days, write_day, write_series
from wellbeing.models import Organization, Participant

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_evaluations_raise_one_alert(
    school: Organization, pupils: list[Participant]
) -> None:
    # given: a student negative on the last 5 of 25 school days
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.65)
    start = threading.Barrier(2)
    reports: list[EvaluationReport] = []
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            start.wait(timeout=10)
            reports.append(evaluate_organization(school, as_of=days[24]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when: two workers evaluate the same school at once, each on its own connection
    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: no error, one alert, raised by exactly one of them
    assert errors == []
    assert sorted(len(r.raised) for r in reports) == [0, 1]
    assert Alert.objects.filter(participant=pupils[0]).count() == 1
