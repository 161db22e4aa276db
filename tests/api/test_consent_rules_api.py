"""The consent rules and the age on record through the API: review, confirm, validation."""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import Scope
from consent.rules import consent_state
from tests.api.conftest import client_for, database_snapshot, patch_json, post_json
from tests.factories import grant_consent
from wellbeing.models import AuditEvent, Guardian, Organization, Participant, StaffMember

URL = "/api/consent-rules/"
BOTH = (Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE)


def test_staff_read_the_rules_and_the_presets_with_their_sources(counselor: StaffMember) -> None:
    got = client_for(counselor).get(URL).json()
    # then the UK school's rules and every preset are listed
    assert (got["preset"], got["student_consent_age"], got["guardian_for_biometrics"]) == (
        "uk", 13, True
    )  # fmt: skip
    assert got["name"] == "UK rules" and got["edited"] is False
    spain = next(p for p in got["presets"] if p["key"] == "eu-es")
    assert spain["student_consent_age"] == 14 and "LOPDGDD" in spain["legal_source"]


def test_an_admin_changes_the_rules_after_reviewing_who_loses_consent(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    # given a 14-year-old (by band) whose own grant of emotion analysis counts under UK rules
    student.age_band = "13-15"
    student.save()
    grant_consent(student, given_by="student", scopes=(Scope.EMOTION_ANALYSIS,))
    client = client_for(admin)
    before = database_snapshot()
    # when the admin asks for Germany's rules (16) without confirming
    refused = post_json(client, URL, {"preset": "eu-de"})
    # then nothing changed and the answer lists the student losing emotion analysis
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert body["error"] == "confirmation_required"
    change = body["consequences"]["changes"][0]
    assert (change["pseudonym"], change["lost"]) == (student.pseudonym, ["emotion_analysis"])
    assert "treated as under 16" in change["reasons"]["emotion_analysis"]
    assert database_snapshot() == before
    # when they confirm with the reviewed token
    token = body["consequences"]["token"]
    done = post_json(client, URL, {"preset": "eu-de", "confirm": True, "reviewed": token})
    # then the rules changed and the consent ended
    assert done.status_code == 200, done.content
    assert done.json()["preset"] == "eu-de"
    fresh = Participant.objects.get(pk=student.pk)  # with its school's new rules
    assert consent_state(fresh, BOTH).active_scopes == frozenset()
    assert AuditEvent.objects.filter(action="consent_rules.change").exists()


def test_an_edited_preset_is_stored_and_labelled(admin: StaffMember) -> None:
    client = client_for(admin)
    payload = {"preset": "uk", "student_consent_age": 14, "guardian_for_biometrics": False}
    token = post_json(client, URL, payload).json()["consequences"]["token"]
    got = post_json(client, URL, {**payload, "confirm": True, "reviewed": token}).json()
    assert (got["student_consent_age"], got["guardian_for_biometrics"]) == (14, False)
    assert got["name"] == "UK rules (edited)"
    school = client.get("/api/school/").json()
    assert (school["consent_rules_preset"], school["student_consent_age"]) == ("uk", 14)


@pytest.mark.parametrize(
    "payload",
    [{"preset": "legacy"}, {"preset": "uk", "student_consent_age": 12}, {"preset": "nowhere"}],
)
def test_invalid_rules_are_400_and_change_nothing(admin: StaffMember, payload: Any) -> None:
    response = post_json(client_for(admin), URL, {**payload, "confirm": True, "reviewed": "x"})
    assert response.status_code == 400
    admin.organization.refresh_from_db()
    assert admin.organization.consent_rules_preset == "uk"


@pytest.mark.parametrize("persona", ["counselor", "teacher"])
def test_only_admins_change_the_rules(
    persona: str, counselor: StaffMember, teacher: StaffMember
) -> None:
    staff = {"counselor": counselor, "teacher": teacher}[persona]
    assert post_json(client_for(staff), URL, {"preset": "eu-de"}).status_code == 403


def test_the_school_settings_show_the_rules_but_do_not_change_them(admin: StaffMember) -> None:
    client = client_for(admin)
    response = patch_json(client, "/api/school/", {"student_consent_age": 16, "audit_days": 1100})
    assert response.status_code == 200
    school: Organization = admin.organization
    school.refresh_from_db()
    assert (school.student_consent_age, school.audit_days) == (13, 1100)


def test_a_participant_is_created_with_a_date_of_birth(admin: StaffMember) -> None:
    created = post_json(
        client_for(admin), "/api/participants/", {"full_name": "New", "date_of_birth": "2014-05-01"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["date_of_birth"] == "2014-05-01"
    assert created.json()["age"] in ("12", "13")


def test_a_date_of_birth_that_ends_consent_needs_the_confirmed_review(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a 16-17 student whose own grant of emotion analysis counts
    student.age_band = "16-17"
    student.save()
    grant_consent(student, given_by="student", scopes=(Scope.EMOTION_ANALYSIS,))
    client = client_for(admin)
    path = f"/api/participants/{student.pk}/"
    # when a date of birth showing they are 11 is sent
    refused = patch_json(client, path, {"date_of_birth": "2015-01-10", "grade": "6"})
    # then nothing changed, and the answer says what would
    assert refused.status_code == 400 and refused.json()["error"] == "confirmation_required"
    student.refresh_from_db()
    assert (student.date_of_birth, student.grade) == (None, "7")
    token = refused.json()["consequences"]["token"]
    # when confirmed
    done = patch_json(
        client,
        path,
        {"date_of_birth": "2015-01-10", "grade": "6", "confirm": True, "reviewed": token},
    )
    # then both are saved and the consent ended, with the reason shown
    assert done.status_code == 200, done.content
    assert done.json()["age"] == "11" and done.json()["grade"] == "6"
    assert done.json()["consent"]["reasons"]["emotion_analysis"] == (
        "student is 11: a guardian's consent is required under UK rules"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"date_of_birth": "2099-01-01"},
        {"birth_year": 1900},
        {"date_of_birth": "2014-01-01", "birth_year": 2013},
        {"age_band": "5-6"},
    ],
)
def test_implausible_ages_are_400(admin: StaffMember, student: Participant, payload: Any) -> None:
    response = patch_json(client_for(admin), f"/api/participants/{student.pk}/", payload)
    assert response.status_code == 400, response.content
    student.refresh_from_db()
    assert (student.date_of_birth, student.birth_year, student.age_band) == (None, None, "")


def test_an_age_that_changes_no_consent_needs_no_confirmation(
    admin: StaffMember, student: Participant
) -> None:
    response = patch_json(
        client_for(admin), f"/api/participants/{student.pk}/", {"birth_year": 2013}
    )
    assert response.status_code == 200, response.content
    assert response.json()["age"].endswith("(born 2013)")
