"""Family portal consent: a guardian sees each of their children and nobody else (not across
schools either), reads the state and history, gives or withdraws consent per scope through the
consent actions (withdrawal stops processing at once; a student's refusal wins), audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from capture.models import DailyRollup, MinuteAggregate, Observation, SessionTotal
from consent.models import ConsentRecord, GivenBy
from consent.rules import consent_state
from tests.consent.conftest import ask_for_link, portal_client, portal_token_in
from tests.factories import grant_consent, make_notice, make_participant
from tests.time_series import add_series
from wellbeing.models import AuditEvent, Guardian, Organization, Participant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]
SCOPES = ("emotion_analysis", "face_template")


def series_rows(participant: Participant) -> int:
    return sum(
        model.objects.filter(participant=participant).count()
        for model in (Observation, MinuteAggregate, SessionTotal, DailyRollup)
    )


def change(client: Client, participant: Participant, scope: str, decision: str) -> Any:
    url = f"/portal/students/{participant.pk}/consent/"
    return client.post(url, {"scope": scope, "decision": decision})


def test_a_guardian_sees_each_of_their_children_and_nobody_else(
    school: Organization, student: Participant, guardian: Guardian, other_school: Organization
) -> None:
    # given the guardian's second child at the school, a stranger's child, and a child of the
    # same address at another school
    sibling = make_participant(school, "Bea Student")
    Guardian.objects.create(participant=sibling, name="Sam Parent", relation="parent",
                            email="PARENT@example.org")  # fmt: skip
    stranger = make_participant(school, "Cy Stranger")
    elsewhere = make_participant(other_school, "Dee Elsewhere")
    Guardian.objects.create(participant=elsewhere, name="Sam Parent", relation="parent",
                            email="parent@example.org")  # fmt: skip
    # when the guardian signs in with the link of this school (one e-mail per school)
    client = Client()
    ask_for_link(client, "parent@example.org")
    links = {m.body.split("portal of ")[1].split(".")[0]: m for m in mail.outbox}
    assert set(links) == {school.name, other_school.name}
    token = portal_token_in(links[school.name])
    client.post(f"/portal/link/{token}/")
    # then the home page lists both children here, and nobody else
    home = client.get("/portal/home/").content.decode()
    assert "Alex Student" in home and "Bea Student" in home
    assert "Cy Stranger" not in home and "Dee Elsewhere" not in home
    # and a stranger's child, or the child at the other school, is not found
    for other in (stranger, elsewhere):
        assert client.get(f"/portal/students/{other.pk}/").status_code == 404
        assert change(client, other, "emotion_analysis", "grant").status_code == 404
    assert not ConsentRecord.objects.exists()
    # and each page shown is audited, naming the student by pseudonym
    assert client.get(f"/portal/students/{sibling.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="portal.view")
    assert event.participant_pseudonym == sibling.pseudonym
    assert event.actor_label == "guardian Sam Parent (family portal)"


def test_a_guardian_gives_consent_per_scope(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    client = portal_client("parent@example.org")
    # when the guardian gives consent to emotion analysis only
    response = change(client, student, "emotion_analysis", "grant")
    # then it is recorded as theirs under the current notice, and only that scope is active
    assert response.status_code == 302
    [record] = ConsentRecord.objects.all()
    assert (record.scopes, record.decision, record.guardian_id) == (
        ["emotion_analysis"], "grant", guardian.pk)  # fmt: skip
    assert record.notice_id == notice.pk and record.given_by == GivenBy.GUARDIAN
    assert consent_state(student, SCOPES).active_scopes == {"emotion_analysis"}
    # and the page shows the state and the history; the change is audited
    page = client.get(f"/portal/students/{student.pk}/").content.decode()
    assert "you agreed" in page and "Consent given" in page and notice.title in page
    assert AuditEvent.objects.filter(action="consent.grant").count() == 1
    assert AuditEvent.objects.get(action="portal.consent_change").detail == {
        "scope": "emotion_analysis", "decision": "grant"}  # fmt: skip


def test_withdrawing_one_scope_stops_its_processing_at_once_and_keeps_the_other(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given the guardian's paper form granting both scopes, and stored numbers
    paper = grant_consent(student, guardian)
    add_series(student)
    assert series_rows(student) == 4
    client = portal_client("parent@example.org")
    # when the guardian withdraws emotion analysis in the portal
    response = change(client, student, "emotion_analysis", "refuse")
    # then at once: emotion analysis is off and the numbers are gone (as for any withdrawal)
    assert response.status_code == 302
    assert consent_state(student, SCOPES).active_scopes == {"face_template"}
    assert series_rows(student) == 0
    assert AuditEvent.objects.filter(action="data.withdrawal_policy").count() == 1
    # and the face template consent never lapsed (no template destroyed), the paper form is
    # withdrawn and its other scope recorded again
    assert not AuditEvent.objects.filter(action="template.destroy").exists()
    paper.refresh_from_db()
    assert paper.withdrawn_at is not None and "family portal" in paper.withdrawal_note
    in_force = ConsentRecord.objects.in_force().order_by("pk")
    assert [(r.decision, r.scopes) for r in in_force] == [
        ("refuse", ["emotion_analysis"]), ("grant", ["face_template"])]  # fmt: skip
    # and giving it again lifts the guardian's own refusal
    change(client, student, "emotion_analysis", "grant")
    assert consent_state(student, SCOPES).active_scopes == set(SCOPES)


def test_one_guardians_withdrawal_wins_over_the_other_guardians_grant(
    student: Participant, guardian: Guardian, notice: Any
) -> None:
    other = Guardian.objects.create(participant=student, name="Kim Parent", relation="parent",
                                    email="kim@example.org")  # fmt: skip
    grant_consent(student, other)
    client = portal_client("parent@example.org")
    change(client, student, "face_template", "refuse")
    assert consent_state(student, SCOPES).active_scopes == {"emotion_analysis"}


def test_a_student_old_enough_refuses_and_the_refusal_wins(
    school: Organization, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a 15-year-old with an address, and their guardian's grant of both scopes
    student.email = "alex@students.example"
    student.date_of_birth = school.local_today() - dt.timedelta(days=15 * 366)
    student.save()
    grant_consent(student, guardian)
    client = portal_client("alex@students.example")
    # when the student refuses emotion analysis in the portal
    change(client, student, "emotion_analysis", "refuse")
    # then their refusal is recorded as theirs and wins over the guardian's grant
    refusal = ConsentRecord.objects.get(decision="refuse")
    assert refusal.given_by == GivenBy.STUDENT and refusal.guardian_id is None
    assert consent_state(student, SCOPES).active_scopes == {"face_template"}
    page = client.get(f"/portal/students/{student.pk}/").content.decode()
    assert "objection on record (the student themself)" in page
    assert AuditEvent.objects.filter(actor_label="student (family portal)",
                                     action="consent.refuse").count() == 1  # fmt: skip


def test_a_new_notice_is_shown_and_old_grants_no_longer_count(
    school: Organization, student: Participant, guardian: Guardian, notice: Any
) -> None:
    grant_consent(student, guardian)
    newer = make_notice(school)
    client = portal_client("parent@example.org")
    page = client.get(f"/portal/students/{student.pk}/").content.decode()
    assert f"version {newer.version}" in page and "no answer from you" in page
    change(client, student, "face_template", "grant")
    assert consent_state(student, SCOPES).active_scopes == {"face_template"}
