"""Changing a school's consent rules, or a student's age, after a review of whose consent ends."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command

from consent.age_rules import AgeRules, rules_of
from consent.models import FaceTemplate, Scope
from consent.rule_changes import (
    AgeOnRecord,
    ChangeNotConfirmed,
    ConsentRulesRefused,
    change_consent_rules,
    rules_change_effects,
    set_participant_age,
    validate_age,
)
from consent.rules import consent_state
from tests.factories import grant_consent, make_participant
from wellbeing.actions import AuditContext, ParticipantRefused, update_participant
from wellbeing.models import AuditEvent, Guardian, Organization, Participant

BOTH = (Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE)
SPAIN = AgeRules("eu-es", 14, True)


@pytest.fixture
def legacy_school(school: Organization, notice: Any) -> Organization:
    """A school as the migration left it: legacy rules, a student's own grant at any age."""
    school.consent_rules_preset, school.student_consent_age = "legacy", 0
    school.guardian_consent_for_biometrics = False
    school.save()
    return school


def _self_consented(school: Organization, name: str, **age: Any) -> Participant:
    kid = make_participant(school, name)
    for field, value in age.items():
        setattr(kid, field, value)
    kid.save()
    grant_consent(kid, given_by="student")
    FaceTemplate.objects.create(participant=kid, ciphertext=b"x", embedder="test")
    return kid


def test_adopting_a_preset_shows_who_loses_what_and_changes_nothing_unconfirmed(
    legacy_school: Organization, student: Participant, guardian: Guardian
) -> None:
    # given a 12-year-old and a 15-year-old who consented alone, and a guardian-consented student
    young = _self_consented(legacy_school, "Young", date_of_birth=dt.date(2014, 1, 1))
    older = _self_consented(legacy_school, "Older", age_band="13-15")
    grant_consent(student, guardian)
    ctx = AuditContext.system(legacy_school)
    # when the school asks to adopt Spain's rules without confirming
    with pytest.raises(ChangeNotConfirmed) as refused:
        change_consent_rules(ctx, SPAIN, confirm=False, reviewed=None)
    # then the review lists each student who loses a scope, and why
    effects = refused.value.effects
    lost = {c.pseudonym: (c.lost, c.reasons) for c in effects.changes}
    assert set(lost) == {young.pseudonym, older.pseudonym}
    assert lost[young.pseudonym][0] == tuple(sorted(BOTH))
    assert lost[young.pseudonym][1][Scope.EMOTION_ANALYSIS] == (
        "student is 12: a guardian's consent is required under Spain (EU) rules"
    )
    assert effects.templates == 2
    assert "2 of 3 participants lose a scope" in str(refused.value)
    # and nothing changed
    assert rules_of(Organization.objects.get(pk=legacy_school.pk)).preset == "legacy"
    assert consent_state(young, BOTH).allows(*BOTH)


def test_a_confirmed_change_ends_the_consents_it_showed_with_a_withdrawals_effects(
    legacy_school: Organization, student: Participant, guardian: Guardian
) -> None:
    # given a 12-year-old who consented alone, reviewed for Spain's rules
    young = _self_consented(legacy_school, "Young", date_of_birth=dt.date(2014, 1, 1))
    grant_consent(student, guardian)
    ctx = AuditContext.system(legacy_school)
    token = rules_change_effects(legacy_school, SPAIN).token
    # when the change is confirmed for that review
    effects = change_consent_rules(ctx, SPAIN, confirm=True, reviewed=token)
    # then the rules are stored, the student lost both scopes and their template at once
    assert rules_of(Organization.objects.get(pk=legacy_school.pk)) == SPAIN
    assert [c.participant_id for c in effects.losing] == [young.pk]
    assert consent_state(young, BOTH).active_scopes == frozenset()
    assert not FaceTemplate.objects.filter(participant=young).exists()
    # and the guardian-consented student is untouched
    assert consent_state(student, BOTH).allows(*BOTH)
    # and the change and each participant's re-evaluation are audited
    change = AuditEvent.objects.get(action="consent_rules.change")
    assert change.detail["before"]["preset"] == "legacy"
    assert change.detail["after"] == {
        "preset": "eu-es", "student_consent_age": 14, "guardian_for_biometrics": True
    }  # fmt: skip
    assert AuditEvent.objects.get(action="consent.reevaluate").participant_pseudonym == (
        young.pseudonym
    )


def test_a_confirmation_for_an_out_of_date_review_changes_nothing(
    legacy_school: Organization,
) -> None:
    # given a review with one student losing consent
    _self_consented(legacy_school, "Young", date_of_birth=dt.date(2014, 1, 1))
    token = rules_change_effects(legacy_school, SPAIN).token
    # when another self-consented 12-year-old is added before the confirmation
    second = _self_consented(legacy_school, "Second", date_of_birth=dt.date(2014, 2, 1))
    with pytest.raises(ChangeNotConfirmed) as refused:
        change_consent_rules(
            AuditContext.system(legacy_school), SPAIN, confirm=True, reviewed=token
        )
    # then nothing changed, and the fresh review names the new student too
    assert refused.value.stale
    assert second.pk in {c.participant_id for c in refused.value.effects.losing}
    assert rules_of(Organization.objects.get(pk=legacy_school.pk)).preset == "legacy"
    assert consent_state(second, BOTH).allows(*BOTH)


def test_lowering_the_age_shows_and_brings_the_gains(school: Organization, notice: Any) -> None:
    # given a school on Ireland's rules (16) and a student in the 13-15 band who consented alone
    school.consent_rules_preset, school.student_consent_age = "eu-ie", 16
    school.save()
    kid = _self_consented(school, "Teen", age_band="13-15")
    assert consent_state(kid, BOTH).active_scopes == frozenset()
    uk = AgeRules("uk", 13, True)
    # when the school adopts the UK rules
    effects = change_consent_rules(
        AuditContext.system(school),
        uk,
        confirm=True,
        reviewed=rules_change_effects(school, uk).token,
    )
    # then the review listed the gain and emotion analysis is active (the template needs a guardian)
    assert [(c.participant_id, c.gained) for c in effects.gaining] == [
        (kid.pk, (Scope.EMOTION_ANALYSIS,))
    ]
    assert consent_state(kid, BOTH).active_scopes == {Scope.EMOTION_ANALYSIS}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (AgeRules("eu-xx", 16, True), "Choose one of the presets"),
        (AgeRules("legacy", 0, False), "Choose one of the presets"),
        (AgeRules("uk", 12, True), "between 13"),
        (AgeRules("uk", 19, True), "between 13"),
    ],
)
def test_invalid_rules_are_refused(school: Organization, rules: AgeRules, message: str) -> None:
    with pytest.raises(ConsentRulesRefused, match=message):
        change_consent_rules(AuditContext.system(school), rules, confirm=True, reviewed="x")


def test_entering_a_date_of_birth_that_ends_consent_needs_confirmation(
    school: Organization, notice: Any
) -> None:
    # given a student in the 13-15 band who consented alone (UK rules: emotion analysis active)
    kid = _self_consented(school, "Teen", age_band="13-15")
    assert consent_state(kid, BOTH).allows(Scope.EMOTION_ANALYSIS)
    ctx = AuditContext.system(school)
    younger = AgeOnRecord(date_of_birth=dt.date(2015, 5, 1))
    # when a date of birth showing they are 11 is entered without confirmation
    with pytest.raises(ChangeNotConfirmed) as refused:
        set_participant_age(ctx, kid, younger)
    # then nothing is saved and the review says why they would lose emotion analysis
    kid.refresh_from_db()
    assert kid.date_of_birth is None
    change = refused.value.effects.changes[0]
    assert change.reasons[Scope.EMOTION_ANALYSIS] == (
        "student is 11: a guardian's consent is required under UK rules"
    )
    # when it is confirmed for that review
    set_participant_age(ctx, kid, younger, confirm=True, reviewed=refused.value.effects.token)
    # then it is saved, the consent ended, and the audit names the field but not the date
    kid.refresh_from_db()
    assert kid.date_of_birth == dt.date(2015, 5, 1)
    assert consent_state(kid, BOTH).active_scopes == frozenset()
    event = AuditEvent.objects.get(action="participant.age_update")
    assert event.detail["known"] == ["date_of_birth"]  # the band is replaced by the date
    assert "2015" not in str(event.detail)


def test_an_age_that_changes_no_consent_applies_at_once(student: Participant) -> None:
    set_participant_age(
        AuditContext.system(student.organization), student, AgeOnRecord(birth_year=2013)
    )
    student.refresh_from_db()
    assert student.birth_year == 2013


@pytest.mark.parametrize(
    ("age", "message"),
    [
        (AgeOnRecord(date_of_birth=dt.date(2027, 1, 1)), "between"),
        (AgeOnRecord(date_of_birth=dt.date(1950, 1, 1)), "between"),
        (AgeOnRecord(birth_year=2030), "year of birth must be between"),
        (AgeOnRecord(date_of_birth=dt.date(2013, 1, 1), birth_year=2012), "does not match"),
        (AgeOnRecord(age_band="7-9"), "Choose an age band"),
    ],
)
def test_implausible_ages_are_refused(age: AgeOnRecord, message: str) -> None:
    with pytest.raises(ConsentRulesRefused, match=message):
        validate_age(age, dt.date(2026, 12, 4))


def test_the_age_is_not_changed_with_the_other_details(student: Participant) -> None:
    # the age decides whose consent counts, so the plain update refuses it
    with pytest.raises(ParticipantRefused, match="consent rules"):
        update_participant(
            AuditContext.system(student.organization), student, date_of_birth=dt.date(2014, 1, 1)
        )


def test_the_report_command_lists_what_adopting_the_default_would_change(
    legacy_school: Organization,
) -> None:
    # given a legacy school with a 12-year-old who consented alone
    young = _self_consented(legacy_school, "Young", date_of_birth=dt.date(2014, 1, 1))
    out = io.StringIO()
    # when the report runs
    call_command("consent_rules_report", stdout=out)
    # then it names the student, the scopes and the reason, and changes nothing
    report = out.getvalue()
    assert f"{legacy_school.slug}: From legacy rules" in report
    assert f"{young.pseudonym} loses emotion_analysis, face_template (student is 12: " in report
    assert consent_state(young, BOTH).allows(*BOTH)
