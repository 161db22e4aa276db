"""A student's own e-mail address is set where students are created, not only on their page:
the add-participant form, the participants API (create and change, validated) and roster
imports (OneRoster users.csv ``email`` of a student; the template's optional ``student_email``
column), where the preview lists it as a change and a re-import changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from consent.roster_plan import plan_roster
from tests.conftest import login
from tests.consent.roster_sets import TEMPLATE, TEMPLATE_HEADER, USERS, oneroster
from tests.consent.test_roster_import import import_files
from wellbeing.models import AuditEvent, Organization, Participant, StaffMember

pytestmark = pytest.mark.django_db

ADA_ROW = "stu-1,,,true,sch-1,student,ada,,Ada,Lovelace,,,"
ADA_USERS = USERS.replace(f"{ADA_ROW},", f"{ADA_ROW}Ada@Students.example,")


def test_the_add_participant_form_takes_the_students_address(admin: StaffMember) -> None:
    client = login(admin)
    url = reverse("consent:participant_create")
    # when an admin adds a student with an address, and one with a malformed address
    client.post(url, {"full_name": "New Kid", "email": "kid@students.example"})
    refused = client.post(url, {"full_name": "Bad Kid", "email": "not an address"})
    # then the first is created with it (audited), the second not at all, with the reason
    kid = Participant.objects.get(full_name="New Kid")
    assert kid.email == "kid@students.example"
    assert AuditEvent.objects.filter(action="participant.create", target_id=str(kid.pk)).exists()
    assert refused.status_code == 200 and "Enter a valid email address" in refused.content.decode()
    assert not Participant.objects.filter(full_name="Bad Kid").exists()


def test_the_api_creates_and_changes_a_student_with_an_address(
    admin: StaffMember, counselor: StaffMember
) -> None:
    client = login(admin)

    def send(method: str, path: str, payload: dict[str, Any]) -> Any:
        return getattr(client, method)(path, json.dumps(payload), content_type="application/json")

    # when an admin creates a student with an address through the API
    created = send("post", "/api/participants/", {"full_name": "Api Kid", "email": "a@s.example"})
    # then it is stored and shown back to the admin
    assert created.status_code == 201 and created.json()["email"] == "a@s.example"
    pk = created.json()["id"]
    # when it is changed, then removed, and a malformed one is sent
    changed = send("patch", f"/api/participants/{pk}/", {"email": "b@s.example"})
    assert changed.status_code == 200 and changed.json()["email"] == "b@s.example"
    assert send("patch", f"/api/participants/{pk}/", {"email": ""}).json()["email"] == ""
    bad = send("post", "/api/participants/", {"full_name": "Bad", "email": "nope"})
    # then the malformed one is refused, naming the field, and nothing is created
    assert bad.status_code == 400 and "email" in json.dumps(bad.json())
    assert not Participant.objects.filter(full_name="Bad").exists()
    # and a counselor without the student on their caseload sees neither name nor address
    Participant.objects.filter(pk=pk).update(email="c@s.example")
    seen = login(counselor).get("/api/participants/").json()
    rows = seen["results"] if isinstance(seen, dict) else seen
    assert all(row["email"] is None for row in rows if row["id"] == pk)


def test_a_oneroster_students_email_is_imported_and_a_reimport_changes_nothing(
    school: Organization,
) -> None:
    # given last term's import without Ada's address
    import_files(school, oneroster())
    # when this term's users.csv gives her address
    files = oneroster(users=ADA_USERS)
    plan = plan_roster(school, files)
    # then the preview lists it as her one change, and the import records it (lower case)
    changed = {r.source_id: r.changes for r in plan.listed("students", "change")}
    assert changed == {"stu-1": ("email: — → ada@students.example",)}
    import_files(school, files)
    assert Participant.objects.get(source_id="stu-1").email == "ada@students.example"
    # and the same files again change nothing
    assert not plan_roster(school, files).writes
    # and files without her address keep the one on record
    assert not plan_roster(school, oneroster()).writes


def test_a_new_oneroster_student_is_created_with_their_email(school: Organization) -> None:
    import_files(school, oneroster(users=ADA_USERS))
    assert Participant.objects.get(source_id="stu-1").email == "ada@students.example"
    assert Participant.objects.get(source_id="stu-2").email == ""


def test_a_malformed_student_email_is_a_row_error(school: Organization) -> None:
    users = USERS.replace("Ada,Lovelace,,,,", "Ada,Lovelace,,,not-an-address,")
    errors = [str(e) for e in plan_roster(school, oneroster(users=users)).errors]
    assert errors == ["users.csv, line 2, email: 'not-an-address' is not an e-mail address."]


def test_the_templates_student_email_column_is_optional_and_imported(
    school: Organization,
) -> None:
    # given the template imported without the column
    import_files(school, {"roster.csv": TEMPLATE.encode()})
    # when the column is added, with Ben's address
    with_column = TEMPLATE.replace(TEMPLATE_HEADER, f"{TEMPLATE_HEADER},student_email")
    lines = with_column.splitlines()
    lines[1] += ","
    lines[2] += ",ben@students.example"
    files = {"roster.csv": ("\n".join(lines) + "\n").encode()}
    plan = plan_roster(school, files)
    # then the preview lists it as Ben's change, the import records it, a re-import is a no-op
    changed = {r.source_id: r.changes for r in plan.listed("students", "change")}
    assert changed == {"S-2": ("email: — → ben@students.example",)}
    import_files(school, files)
    assert Participant.objects.get(source_id="S-2").email == "ben@students.example"
    assert not plan_roster(school, files).writes
    # and a malformed address names the line and column
    bad = files["roster.csv"].decode().replace("ben@students.example", "ben@")
    errors = [str(e) for e in plan_roster(school, {"roster.csv": bad.encode()}).errors]
    assert errors == ["roster.csv, line 3, student_email: 'ben@' is not an e-mail address."]
