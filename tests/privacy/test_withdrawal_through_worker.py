"""Withdrawal and objection, end to end through ingest and the worker code path.

Each path must: stop attribution at the next frame, destroy the template at once, delete (or by
school policy de-identify) the stored numbers, close open alerts, and audit every step. A frame
that was being analysed while consent ended must not store anything of the person either.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Alert, AlertState, Rule
from capture.gallery import lock_consented
from capture.models import ClassSession, DailyRollup, MinuteAggregate, Observation, SessionTotal
from capture.processing import outcome_of
from capture.timeseries import store_frame_outcome
from consent.actions import withdraw_consent
from consent.models import ConsentRecord, Decision, FaceTemplate, GivenBy
from privacy.models import DeidentifiedDailyTotal
from privacy.subject_rights import carry_out_erasure, open_erasure_request
from tests.capture.conftest import post_frame, read_face, start_session
from tests.factories import grant_consent
from tests.time_series import add_series
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Organization, Participant

SCENE = "scenes/obama+biden.jpg"  # Obama, Biden and a child enrolled nowhere


def _open_alert(participant: Participant) -> Alert:
    rule = Rule.objects.filter(organization=participant.organization).first()
    assert rule is not None  # default rules are seeded per school
    today = timezone.localdate()
    return Alert.objects.create(
        organization=participant.organization,
        participant=participant,
        rule=rule,
        rule_slug=rule.slug,
        severity="notify",
        evidence={},
        window_start=today - dt.timedelta(days=4),
        window_end=today,
        raised_at=timezone.now(),
    )


def _end_consent(path: str, person: Participant) -> None:
    ctx = AuditContext.system(person.organization)
    if path == "withdrawal":
        withdraw_consent(ctx, ConsentRecord.objects.get(participant=person))
    else:  # a guardian's written objection overrides the (other) guardian's grant
        guardian = Guardian.objects.filter(participant=person).first()
        grant_consent(person, guardian, decision=Decision.REFUSE, given_by=GivenBy.GUARDIAN)


def _rows_of(person: Participant) -> int:
    return sum(
        model.objects.filter(participant=person).count()
        for model in (Observation, MinuteAggregate, SessionTotal, DailyRollup)
    )


@pytest.mark.parametrize(
    ("path", "policy"), [("withdrawal", "delete"), ("objection", "deidentify")]
)
def test_consent_end_takes_every_effect_through_the_worker(
    path: str, policy: str, school: Organization, camera: Any, obama: Any, biden: Any
) -> None:
    # given a school's policy, Obama observed in a first frame and an open alert about him
    school.withdrawal_policy = policy
    school.save()
    token = camera[1]
    session_id = start_session(token).json()["session_id"]
    assert post_frame(token, session_id, 1, read_face(SCENE)).status_code == 202
    assert _rows_of(obama) == 4
    alert = _open_alert(obama)
    # when his consent ends, and two more frames of the same scene arrive
    ended_at = timezone.now()
    _end_consent(path, obama)
    for sequence in (2, 3):
        assert post_frame(token, session_id, sequence, read_face(SCENE)).status_code == 202
    # then nothing of Obama is stored from any later frame (nor kept from before), Biden still is
    assert not Observation.objects.filter(participant=obama).exists()
    assert _rows_of(obama) == 0
    assert Observation.objects.filter(participant=biden).count() == 3
    assert not Observation.objects.filter(captured_at__gte=ended_at, participant=obama).exists()
    # and his template is gone, his alert closed
    assert not FaceTemplate.objects.filter(participant=obama).exists()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.closed_reason == "consent_withdrawn"
    # and the school's policy decided what survives: nothing, or a day total with no link to him
    pooled = DeidentifiedDailyTotal.objects.filter(organization=school)
    if policy == "deidentify":
        assert [(row.grade, row.n) for row in pooled] == [(obama.grade, 1)]
    else:
        assert not pooled.exists()
    # and every step is on the audit trail under his pseudonym
    actions = set(
        AuditEvent.objects.filter(participant_pseudonym=obama.pseudonym).values_list(
            "action", flat=True
        )
    )
    first = "consent.withdraw" if path == "withdrawal" else "consent.refuse"
    assert {first, "template.destroy", "data.withdrawal_policy", "alert.close_on_withdrawal"} <= (
        actions
    )


def test_frame_analysed_while_consent_ends_stores_nothing_of_the_person(
    school: Organization, camera: Any, obama: Any, biden: Any
) -> None:
    # given a frame whose analysis started while Obama was consented (his face was matched)
    session_id = start_session(camera[1]).json()["session_id"]
    session = ClassSession.objects.get(pk=session_id)
    frame_id = f"{camera[0].pk}:1"
    outcome = outcome_of(frame_id, session, camera[0].pk, time.time(), read_face(SCENE))
    assert outcome is not None
    assert {obs.participant_id for obs in outcome.observations} == {obama.pk, biden.pk}
    # when his consent is withdrawn before the worker stores the frame
    _end_consent("withdrawal", obama)
    assert store_frame_outcome(school.pk, school.tzinfo, outcome)
    # then the frame is stored without him: he counts as an unknown face, like the child
    assert _rows_of(obama) == 0
    assert Observation.objects.filter(participant=biden, frame_id=frame_id).count() == 1
    assert ClassSession.objects.get(pk=session_id).unknown_faces == 2


def _withdraw(participant: Participant, record: ConsentRecord) -> None:
    withdraw_consent(AuditContext.system(participant.organization), record)


def _erase(participant: Participant, record: ConsentRecord) -> None:
    person = Participant.objects.get(pk=participant.pk)  # deleting clears the instance's pk
    ctx = AuditContext.system(person.organization)
    carry_out_erasure(ctx, open_erasure_request(ctx, person, "guardian, by letter"))


@pytest.mark.parametrize("end", [_withdraw, _erase], ids=["withdrawal", "erasure"])
@pytest.mark.django_db(transaction=True)
def test_consent_end_waits_for_a_frame_being_stored_then_deletes_it(
    end: Any, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a worker transaction that re-checked the student's consent and holds the lock
    record = grant_consent(student, guardian)
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            end(student, record)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    other = threading.Thread(target=in_thread)
    with transaction.atomic():
        assert lock_consented([student.pk]) == {student.pk}
        # when a withdrawal (or an erasure) starts meanwhile
        other.start()
        other.join(0.5)
        # then it waits for the frame's transaction rather than racing it
        assert other.is_alive()
        add_series(student)  # what the frame stores
    other.join(10)
    assert not other.is_alive() and errors == []
    # and, committed after the frame, it removed what the frame stored
    assert _rows_of(student) == 0
