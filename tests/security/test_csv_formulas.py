"""CSV exports cannot carry a live formula, also for spreadsheets that split on ';' or tabs."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.conftest import login
from tests.factories import make_participant
from wellbeing.models import AuditEvent, Classroom, Organization, StaffMember
from wellbeing.spreadsheet import csv_cell


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("9;=1+1", "9;'=1+1"),
        ("a|@SUM(1)", "a|'@SUM(1)"),
        ("x\t+1", "x\t'+1"),
        ("line\n-1+1", "line\n'-1+1"),
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("2026-12-03", "2026-12-03"),
        ("plain; text", "plain; text"),
    ],
)
def test_formula_starts_are_defused_after_any_separator(typed: str, written: str) -> None:
    # given text a spreadsheet could split into cells / then no piece starts a formula
    assert csv_cell(typed) == written


def test_json_cells_stay_parseable() -> None:
    # given a list with a negative number (commas are the file's own, quoted, separator)
    assert csv_cell([1, -2]) == "[1, -2]"


@pytest.mark.django_db
def test_report_csv_quotes_every_field_and_defuses_a_class_name(
    school: Organization, admin: StaffMember
) -> None:
    # given a classroom whose name was typed as "9;=1+1", with students
    room = Classroom.objects.create(organization=school, name="9;=1+1")
    for n in range(6):
        make_participant(school, f"S{n}", classroom=room)
    # when the consent-coverage CSV is downloaded
    response = login(admin).get(reverse("dashboard:report_csv", args=["consent"]))
    text = response.content.decode()
    # then every field is quoted, and the name's second piece is text
    assert all(line.startswith('"') for line in text.splitlines() if line)
    assert "9;'=1+1" in text and "9;=1+1" not in text


@pytest.mark.django_db
def test_audit_csv_quotes_every_field(admin: StaffMember) -> None:
    # given an audit event whose label was typed with a formula after a ';'
    AuditEvent.objects.create(
        organization=admin.organization, action="participant.list", actor_label="a;=1+1"
    )
    # when the trail is exported
    response = login(admin).get(reverse("audit_csv") + "?action=participant.list")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    # then every field is quoted and the label is defused
    assert all(line.startswith('"') for line in body.splitlines() if line)
    assert any("a;'=1+1" in row for row in rows)
