"""Withdrawal deletes (or by school policy de-identifies) a person's numbers, audited."""

from __future__ import annotations

from typing import Any

import pytest

from capture.models import DailyRollup, MinuteAggregate, Observation, SessionTotal
from consent.actions import withdraw_consent
from privacy.models import DeidentifiedDailyTotal
from tests.factories import grant_consent
from tests.time_series import PROBS, add_series
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Organization, Participant


def _series_count(participant: Participant) -> int:
    return sum(
        model.objects.filter(participant=participant).count()
        for model in (Observation, MinuteAggregate, SessionTotal, DailyRollup)
    )


def test_withdrawal_deletes_series_by_default(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a consented student with stored numbers
    record = grant_consent(student, guardian)
    add_series(student)
    assert _series_count(student) == 4
    # when consent is withdrawn
    withdraw_consent(AuditContext.system(student.organization), record)
    # then all of the student's series are gone, and that is audited
    assert _series_count(student) == 0
    event = AuditEvent.objects.get(action="data.withdrawal_policy")
    assert event.detail["observations"] == 1 and event.detail["policy"] == "delete"
    assert event.detail["session_totals"] == 1


def test_withdrawal_deidentifies_day_totals_when_school_chose_so(
    school: Organization, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a school that keeps de-identified day totals
    school.withdrawal_policy = "deidentify"
    school.save()
    record = grant_consent(student, guardian)
    add_series(student)
    # when consent is withdrawn
    withdraw_consent(AuditContext.system(school), record)
    # then individual rows are gone and the day total survives without any link to the student
    assert _series_count(student) == 0
    pooled = DeidentifiedDailyTotal.objects.get()
    assert pooled.n == 1 and pooled.s_sad == pytest.approx(PROBS["sad"])
    assert pooled.grade == student.grade
    assert not any(f.name == "participant" for f in DeidentifiedDailyTotal._meta.fields)


def test_objection_has_the_same_effect_as_withdrawal(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    grant_consent(student, guardian)
    add_series(student)
    grant_consent(student, scopes=("emotion_analysis",), decision="refuse", given_by="student")
    assert _series_count(student) == 0
