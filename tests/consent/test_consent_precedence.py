"""Consent precedence: grants, refusals, objections, notice versions and withdrawal."""

from __future__ import annotations

from typing import Any

import pytest

from consent.actions import ConsentError, publish_notice, withdraw_consent
from consent.models import Decision, GivenBy, Scope
from consent.rules import consent_state
from tests.factories import grant_consent, make_guardian
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Participant

BOTH = (Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE)


def test_guardian_grant_activates_the_granted_scopes(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a guardian's grant of emotion analysis only
    grant_consent(student, guardian, scopes=(Scope.EMOTION_ANALYSIS,))
    # when the state is decided
    state = consent_state(student, BOTH)
    # then only that scope is active
    assert state.active_scopes == {Scope.EMOTION_ANALYSIS}
    assert "no consent" in state.reasons[Scope.FACE_TEMPLATE]


def test_no_notice_means_no_consent(student: Participant, guardian: Guardian) -> None:
    # given no published notice, then consent cannot even be recorded
    with pytest.raises(ConsentError, match="Publish a consent notice"):
        grant_consent(student, guardian)
    assert consent_state(student, BOTH).active_scopes == frozenset()


def test_student_refusal_overrides_guardian_grant(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a guardian grant
    grant_consent(student, guardian)
    # when the student refuses emotion analysis themself
    grant_consent(
        student,
        scopes=(Scope.EMOTION_ANALYSIS,),
        decision=Decision.REFUSE,
        given_by=GivenBy.STUDENT,
    )
    # then emotion analysis stops while the unrefused scope stays
    state = consent_state(student, BOTH)
    assert not state.allows(Scope.EMOTION_ANALYSIS)
    assert state.allows(Scope.FACE_TEMPLATE)
    assert "student" in state.reasons[Scope.EMOTION_ANALYSIS]


def test_any_guardian_objection_overrides_another_guardians_grant(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given one guardian grants and a second guardian objects
    second = make_guardian(student, "Second Parent")
    grant_consent(student, guardian)
    objection = grant_consent(student, second, scopes=BOTH, decision=Decision.REFUSE)
    # then nothing is active
    assert consent_state(student, BOTH).active_scopes == frozenset()
    # when the objection is withdrawn, the grant counts again
    withdraw_consent(AuditContext.system(student.organization), objection, note="retracted")
    assert consent_state(student, BOTH).active_scopes == frozenset(BOTH)


def test_new_notice_version_requires_fresh_consent(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given consent under version 1
    grant_consent(student, guardian)
    assert consent_state(student, BOTH).allows(*BOTH)
    # when version 2 is published
    publish_notice(
        AuditContext.system(student.organization),
        "Changed notice",
        "New purposes",
        confirmed=True,
    )
    # then the old grant no longer counts, until consent is given again
    state = consent_state(student, BOTH)
    assert state.active_scopes == frozenset()
    assert "version 2" in state.reasons[Scope.EMOTION_ANALYSIS]
    grant_consent(student, guardian)
    assert consent_state(student, BOTH).allows(*BOTH)


def test_withdrawal_takes_effect_immediately_and_is_audited(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given an active grant
    record = grant_consent(student, guardian)
    # when it is withdrawn
    withdraw_consent(AuditContext.system(student.organization), record, note="parent called")
    # then nothing is active and the withdrawal is in the audit trail
    assert consent_state(student, BOTH).active_scopes == frozenset()
    assert AuditEvent.objects.filter(
        action="consent.withdraw", participant_pseudonym=student.pseudonym
    ).exists()
    with pytest.raises(ConsentError, match="already withdrawn"):
        withdraw_consent(AuditContext.system(student.organization), record)


def test_guardian_of_another_student_cannot_decide(
    student: Participant, guardian: Guardian, notice: Any, school: Any
) -> None:
    # given a guardian recorded for a different student
    from tests.factories import make_participant

    sibling = make_participant(school, "Sibling")
    stranger = make_guardian(sibling, "Stranger")
    # then their decision is refused with a clear error
    with pytest.raises(ConsentError, match="not recorded for this participant"):
        grant_consent(student, stranger)
