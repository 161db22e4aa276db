"""Consent, notices, guardians and caseload through the API (rules enforced by the actions)."""

from __future__ import annotations

from django.test import Client

from consent.models import ConsentRecord, Scope
from tests.api.conftest import World, client_for, post_json
from wellbeing.models import AuditEvent, Guardian, Participant, StaffMember


def _status(client: Client, participant_id: int) -> list[str]:
    response = client.get(f"/api/participants/{participant_id}/")
    scopes: list[str] = response.json()["consent"]["active_scopes"]
    return scopes


def _consent(guardian: int | None, decision: str = "grant", **extra: object) -> dict[str, object]:
    return {
        "scopes": ["emotion_analysis", "face_template"],
        "decision": decision,
        "given_by": "guardian" if guardian else "student",
        "guardian": guardian,
        "evidence_reference": "form-2026-007",
        "evidence_date": "2026-09-03",
        **extra,
    }


def test_recorded_grant_activates_and_withdrawal_deactivates_at_once(
    world: World, student: Participant, guardian: Guardian
) -> None:
    admin = world.personas["admin"]
    client = client_for(admin)
    url = f"/api/participants/{student.pk}/consents/"
    # when the admin records a guardian's grant of both scopes
    created = post_json(client, url, _consent(guardian.pk))
    # then both scopes are active and the record names who recorded it
    assert created.status_code == 201, created.content
    record = created.json()
    assert record["recorded_by"] == admin.user.username  # type: ignore[union-attr]
    assert record["notice_version"] == 1
    assert _status(client, student.pk) == ["emotion_analysis", "face_template"]
    # when the grant is withdrawn
    withdrawn = post_json(client, f"/api/consents/{record['id']}/withdraw/", {"note": "phone"})
    # then it takes effect immediately, and the history keeps the withdrawn record
    assert withdrawn.json()["withdrawn_at"] and withdrawn.json()["withdrawal_note"] == "phone"
    assert _status(client, student.pk) == ["emotion_analysis"]  # the fixture's older grant
    history = client.get(url).json()
    assert record["id"] in [row["id"] for row in history]
    assert {"consent.grant", "consent.withdraw"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )


def test_student_refusal_through_api_overrides_guardian_grant(
    world: World, student: Participant, guardian: Guardian
) -> None:
    client = client_for(world.personas["admin"])
    url = f"/api/participants/{student.pk}/consents/"
    post_json(client, url, _consent(guardian.pk))
    # when the student's own refusal is recorded
    refused = post_json(client, url, _consent(None, decision="refuse"))
    # then nothing is active any more, and the reason names the student
    assert refused.status_code == 201
    row = client.get(f"/api/participants/{student.pk}/").json()
    assert row["consent"]["active_scopes"] == []
    assert "student" in row["consent"]["reasons"][Scope.FACE_TEMPLATE]


def test_publishing_a_notice_requires_fresh_consent(world: World, student: Participant) -> None:
    client = client_for(world.personas["admin"])
    assert _status(client, student.pk) == ["emotion_analysis"]
    # when the admin publishes the next notice version
    change = {"title": "v2", "text": "Now also X.", "confirm": True, "reviewed_lapses": 1}
    published = post_json(client, "/api/notices/", change)
    # then it is version 2, listed first, and the old grant no longer counts
    assert published.status_code == 201 and published.json()["version"] == 2
    assert [n["version"] for n in client.get("/api/notices/").json()["results"]] == [2, 1]
    assert _status(client, student.pk) == []
    assert AuditEvent.objects.filter(action="notice.publish", detail__version=2).exists()


def test_consent_history_read_is_audited(world: World, student: Participant) -> None:
    counselor = world.personas["counselor"]
    # when the caseload counselor reads the consent history
    history = client_for(counselor).get(f"/api/participants/{student.pk}/consents/")
    # then it lists the records and the read is in the audit trail
    assert [r["id"] for r in history.json()] == list(
        ConsentRecord.objects.filter(participant=student).values_list("pk", flat=True)
    )
    event = AuditEvent.objects.get(action="participant.view")
    assert event.detail == {"section": "consents"}
    assert event.actor == counselor.user  # type: ignore[union-attr]


def test_guardian_added_and_listed(world: World, student: Participant) -> None:
    client = client_for(world.personas["admin"])
    url = f"/api/participants/{student.pk}/guardians/"
    # when a guardian is added
    created = post_json(client, url, {"name": "Kim Parent", "relation": "mother"})
    # then it is listed with the fixture's guardian, and the change is audited
    assert created.status_code == 201
    assert [g["name"] for g in client.get(url).json()] == ["Sam Parent", "Kim Parent"]
    assert AuditEvent.objects.filter(
        action="guardian.create", participant_pseudonym=student.pseudonym
    ).exists()


def test_caseload_assignment_gives_counselor_access(world: World) -> None:
    client = client_for(world.personas["admin"])
    unassigned = world.ids["unassigned"]
    second = world.ids["counselor2"]
    url = f"/api/participants/{unassigned}/caseload/"
    # when the admin assigns the unassigned student to the second counselor (twice)
    first = post_json(client, url, {"counselor": second})
    repeat = post_json(client, url, {"counselor": second})
    # then it is created once (201, then 200) and audited once
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert first.json()["id"] == repeat.json()["id"]
    assert AuditEvent.objects.filter(action="caseload.assign").count() == 1
    # and that counselor can now see the student with full name
    counselor2 = client_for(StaffMember.objects.get(pk=second))
    assert counselor2.get(f"/api/participants/{unassigned}/").json()["full_name"]
