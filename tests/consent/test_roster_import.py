"""Roster import against the real database: the preview, applying it, re-imports (idempotent;
only what changed), guardian relations, staff links, ages, adoption of typed-in records, and
all-or-nothing (consent.roster_plan, consent.roster_import)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection

from consent.models import ConsentRecord, GivenBy
from consent.roster_import import RosterChanged, RosterRefused, apply_roster
from consent.roster_plan import plan_roster
from tests.consent.roster_sets import DEMOGRAPHICS, ENROLLMENTS, TEMPLATE, USERS, oneroster
from tests.factories import grant_consent, make_classroom, make_participant
from wellbeing.actions import AuditContext
from wellbeing.models import (
    AuditEvent,
    Classroom,
    Guardian,
    Organization,
    Participant,
    StaffMember,
)


def import_files(school: Organization, files: dict[str, bytes]) -> Any:
    """Preview, then confirm that preview, as the admin pages do."""
    ctx = AuditContext.system(school, "admin (test)")
    plan = plan_roster(school, files)
    assert plan.errors == []
    return apply_roster(ctx, files, reviewed=plan.token)


def school_state(school: Organization) -> dict[str, Any]:
    """Every field an import may write, of every record of the school."""
    members = Participant.classrooms.through.objects.filter(participant__organization=school)
    teaching = Classroom.teachers.through.objects.filter(classroom__organization=school)
    guardians = Guardian.objects.filter(participant__organization=school)
    people = Participant.objects.filter(organization=school)
    return {
        "classrooms": sorted(
            Classroom.objects.filter(organization=school).values_list(
                "pk", "name", "grade", "source_id"
            )
        ),
        "participants": sorted(
            people.values_list(
                "pk", "pseudonym", "full_name", "grade", "source_id", "date_of_birth",
                "birth_year", "age_band", "email",
            )
        ),
        "memberships": sorted(members.values_list("participant_id", "classroom_id")),
        "guardians": sorted(
            guardians.values_list(
                "pk", "participant_id", "name", "relation", "email", "phone", "source_id"
            )
        ),
        "teachers": sorted(teaching.values_list("classroom_id", "staffmember_id")),
    }  # fmt: skip


def test_the_preview_says_what_would_be_created_and_writes_nothing(
    school: Organization, teacher: StaffMember
) -> None:
    # given an empty school with a teacher / when the set is previewed
    before = school_state(school)
    plan = plan_roster(school, oneroster())
    # then it counts what would be created, per entity
    counts = plan.counts()
    assert {kind: c["create"] for kind, c in counts.items()} == {
        "classrooms": 2,
        "students": 2,
        "guardians": 3,
        "staff links": 1,
    }
    assert plan.writes and plan.errors == []
    # and nothing is written
    assert school_state(school) == before
    assert plan.as_dict()["creates_consent"] is False


def test_importing_creates_classrooms_students_guardians_and_staff_links(
    school: Organization, teacher: StaffMember
) -> None:
    # given a school with the teacher Tess's address belongs to
    # when the set is imported
    import_files(school, oneroster())
    # then the classrooms, students (with the birth date) and their classes exist
    ada = Participant.objects.get(organization=school, source_id="stu-1")
    ben = Participant.objects.get(organization=school, source_id="stu-2")
    assert (ada.full_name, ada.grade, ada.date_of_birth) == (
        "Ada Lovelace",
        "07",
        dt.date(2013, 12, 10),
    )
    assert sorted(ada.classrooms.values_list("name", flat=True)) == ["7B", "Art 7"]
    assert list(ben.classrooms.values_list("name", flat=True)) == ["7B"]
    # and the guardians, with their e-mail addresses, related from either side
    anne = ada.guardians.get()
    assert (anne.name, anne.relation, anne.email, anne.source_id) == (
        "Anne Lovelace",
        "parent",
        "anne@example.org",
        "par-1",
    )
    assert sorted(ben.guardians.values_list("name", "email")) == [
        ("Chidi Okafor", "chidi@example.org"),
        ("Ngozi Okafor", ""),
    ]
    # and Tess (the teacher fixture, by e-mail) teaches 7B
    assert list(teacher.classrooms.values_list("source_id", flat=True)) == ["cls-7b"]
    # and no consent of any kind was recorded
    assert not ConsentRecord.objects.filter(participant__organization=school).exists()


def test_each_import_is_audited(school: Organization) -> None:
    # when the set is imported
    import_files(school, oneroster())
    # then one roster.import event counts it, and each created record has its own event
    summary = AuditEvent.objects.get(organization=school, action="roster.import")
    assert summary.detail["counts"]["students"] == {"create": 2}
    assert summary.actor_label == "admin (test)"
    created = AuditEvent.objects.filter(organization=school, action="participant.create")
    assert sorted(created.values_list("participant_pseudonym", flat=True)) == sorted(
        Participant.objects.filter(organization=school).values_list("pseudonym", flat=True)
    )
    assert created.first().detail == {"source": "roster import"}  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(organization=school, action="guardian.create").count() == 3


def test_importing_the_same_files_again_changes_nothing(
    school: Organization, teacher: StaffMember
) -> None:
    # given the set imported once
    import_files(school, oneroster())
    before = school_state(school)
    # when the same files are previewed and imported again
    plan = plan_roster(school, oneroster())
    import_files(school, oneroster())
    # then the preview has nothing to create or change, and no record changed
    assert not plan.writes
    assert {kind: c["unchanged"] for kind, c in plan.counts().items()} == {
        "classrooms": 2,
        "students": 2,
        "guardians": 3,
        "staff links": 1,
    }
    assert school_state(school) == before


def test_a_changed_name_grade_or_class_changes_only_that(school: Organization) -> None:
    # given the set imported once
    import_files(school, oneroster())
    before = school_state(school)
    ada = Participant.objects.get(source_id="stu-1")
    # when Ben is renamed and moves up a grade, and Ada leaves Art 7
    users = USERS.replace("Ben,Okafor,,,,,,par-3,07", "Benedict,Okafor,,,,,,par-3,08")
    enrollments = ENROLLMENTS.replace("enr-2,,,cls-art,sch-1,stu-1,student,false,,\n", "")
    files = oneroster(users=users, enrollments=enrollments)
    plan = plan_roster(school, files)
    import_files(school, files)
    # then the preview listed exactly those changes
    changed = {r.source_id: r.changes for r in plan.listed("students", "change")}
    assert changed == {
        "stu-2": ("full_name: Ben Okafor → Benedict Okafor", "grade: 07 → 08"),
        "stu-1": ("classes: -Art 7",),
    }
    # and only those fields changed: same records, same pseudonyms
    after = school_state(school)
    ben_before = next(p for p in before["participants"] if p[4] == "stu-2")
    ben_after = next(p for p in after["participants"] if p[4] == "stu-2")
    assert ben_after == (*ben_before[:2], "Benedict Okafor", "08", *ben_before[4:])
    art = Classroom.objects.get(source_id="cls-art")
    assert set(before["memberships"]) - set(after["memberships"]) == {(ada.pk, art.pk)}
    assert set(after["memberships"]) <= set(before["memberships"])
    for kind in ("classrooms", "guardians", "teachers"):
        assert after[kind] == before[kind]


def test_records_missing_from_the_files_are_left_alone(school: Organization) -> None:
    # given the set imported, and a membership of a classroom typed in by staff
    import_files(school, oneroster())
    ben = Participant.objects.get(source_id="stu-2")
    own_room = make_classroom(school, "Chess club")
    ben.classrooms.add(own_room)
    # when Ben and his enrollment are no longer in the files, and Chidi no longer related
    users = "\n".join(
        line for line in USERS.splitlines() if not line.startswith(("stu-2", "par-2"))
    )
    enrollments = ENROLLMENTS.replace("enr-3,,,cls-7b,sch-1,stu-2,student,false,,\n", "")
    plan = plan_roster(school, oneroster(users=users + "\n", enrollments=enrollments))
    # then the preview says Ben is left alone, and the import keeps him as he is
    assert [(r.source_id, r.changes) for r in plan.listed("students", "left alone")] == [
        ("stu-2", ("not in the files",))
    ]
    before = school_state(school)
    import_files(school, oneroster(users=users + "\n", enrollments=enrollments))
    assert school_state(school) == before


def test_a_guardian_no_longer_named_stays(school: Organization) -> None:
    # given the set imported
    import_files(school, oneroster())
    # when Chidi no longer lists Ben
    users = USERS.replace("chidi@example.org,,,stu-2,", "chidi@example.org,,,,")
    plan = plan_roster(school, oneroster(users=users))
    # then he is left alone (consent he gave may rest on him), and still Ben's guardian
    assert [r.label for r in plan.listed("guardians", "left alone")] == ["Chidi Okafor (guardian)"]
    import_files(school, oneroster(users=users))
    assert Guardian.objects.filter(source_id="par-2").count() == 1


def test_one_guardian_of_two_children_is_a_guardian_of_each(school: Organization) -> None:
    # given Anne also listed as Ben's agent
    users = USERS.replace(",par-3,07,", ',"par-3,par-1",07,')
    # when imported
    import_files(school, oneroster(users=users))
    # then each child has a Guardian row for Anne, with the same roster id
    rows = Guardian.objects.filter(source_id="par-1").order_by("participant__source_id")
    assert [(g.participant.source_id, g.email) for g in rows] == [
        ("stu-1", "anne@example.org"),
        ("stu-2", "anne@example.org"),
    ]


def test_a_blank_contact_in_the_files_keeps_what_staff_typed(school: Organization) -> None:
    # given the set imported, and staff added Ngozi's e-mail address by hand
    import_files(school, oneroster())
    Guardian.objects.filter(source_id="par-3").update(email="ngozi@example.org")
    # when the same files (no e-mail for Ngozi) are imported again
    plan = plan_roster(school, oneroster())
    # then nothing changes, and her address stays
    assert not plan.writes
    assert Guardian.objects.get(source_id="par-3").email == "ngozi@example.org"


def test_records_typed_in_by_staff_are_adopted_not_duplicated(school: Organization) -> None:
    # given 7B and Ada typed in by staff, before any import
    room = make_classroom(school, "7B")
    ada = make_participant(school, "Ada Lovelace", classroom=room)
    # when the set is previewed and imported
    plan = plan_roster(school, oneroster())
    import_files(school, oneroster())
    # then they got their roster ids instead of a second 7B and a second Ada
    assert [r.changes for r in plan.listed("classrooms", "change")] == [
        ("grade: 7 → 07", "roster id recorded")
    ]
    ada.refresh_from_db()
    room.refresh_from_db()
    assert (ada.source_id, room.source_id) == ("stu-1", "cls-7b")
    assert Participant.objects.filter(organization=school, full_name="Ada Lovelace").count() == 1
    assert Classroom.objects.filter(organization=school).count() == 2


def test_another_schools_records_are_neither_matched_nor_changed(
    school: Organization, other_school: Organization
) -> None:
    # given the same set imported by another school
    import_files(other_school, oneroster())
    theirs = school_state(other_school)
    # when this school imports it
    plan = plan_roster(school, oneroster())
    import_files(school, oneroster())
    # then everything is created here, and nothing of theirs changed
    assert plan.counts()["students"]["create"] == 2
    assert school_state(other_school) == theirs
    assert Participant.objects.filter(source_id="stu-1").count() == 2


def test_files_with_errors_import_nothing(school: Organization) -> None:
    # given a set with one bad e-mail address
    files = oneroster(users=USERS.replace("Anne@Example.org", "anne-at-example"))
    plan = plan_roster(school, files)
    # when confirmed anyway / then it is refused, naming the error, and nothing is written
    with pytest.raises(RosterRefused) as refused:
        apply_roster(AuditContext.system(school), files, reviewed=plan.token)
    assert refused.value.extra_fields()["errors"] == [
        {
            "file": "users.csv",
            "line": 4,
            "column": "email",
            "message": "'anne-at-example' is not an e-mail address.",
        }
    ]
    assert not Participant.objects.filter(organization=school).exists()


def test_a_preview_that_is_out_of_date_imports_nothing(school: Organization) -> None:
    # given a preview, after which someone else typed in a classroom named Art 7
    files = oneroster()
    plan = plan_roster(school, files)
    Classroom.objects.create(organization=school, name="Art 7", source_id="cls-old-art")
    # when it is confirmed / then it is refused with the new preview, and nothing is written
    with pytest.raises(RosterChanged) as changed:
        apply_roster(AuditContext.system(school), files, reviewed=plan.token)
    assert changed.value.plan.errors[0].message.startswith("a classroom named 'Art 7'")
    assert not Participant.objects.filter(organization=school).exists()


def test_a_failure_while_writing_leaves_nothing_half_imported(school: Organization) -> None:
    # given the database refuses guardians (written after classrooms and students)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_guardian() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'guardians refused for the test'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_guardian BEFORE INSERT ON wellbeing_guardian "
            "FOR EACH ROW EXECUTE FUNCTION refuse_guardian()"
        )
    before = school_state(school)
    # when the set is imported
    with pytest.raises(DatabaseError, match="guardians refused"):
        import_files(school, oneroster())
    # then no classroom, student or audit event of the import remains
    assert school_state(school) == before
    events = AuditEvent.objects.filter(organization=school, action__startswith="participant.")
    assert not events.exists()


def test_an_age_that_would_end_consent_is_held_back(school: Organization, notice: Any) -> None:
    # given the school's UK rules (own grant from 13), Ada imported without a birth date, then
    # her own grant recorded while she was taken to be 13 (birth year 2012)
    assert school.consent_rules_preset == "uk"
    import_files(school, oneroster(demographics=""))
    ada = Participant.objects.get(source_id="stu-1")
    Participant.objects.filter(pk=ada.pk).update(birth_year=2012)
    grant_consent(ada, given_by=GivenBy.STUDENT)
    # when the files say she was born 2013-12-10 (so she is 12)
    plan = plan_roster(school, oneroster())
    import_files(school, oneroster())
    # then her age is not changed by the import, and the preview says why
    ada.refresh_from_db()
    assert (ada.birth_year, ada.date_of_birth) == (2012, None)
    assert any("would end their" in note and ada.pseudonym in note for note in plan.notes)


def test_an_age_that_ends_no_consent_is_recorded(school: Organization) -> None:
    # given Ben imported without a birth date, and no consent
    import_files(school, oneroster())
    # when the files now give his birth date
    demographics = DEMOGRAPHICS + "stu-2,,,2012-03-01,male\n"
    plan = plan_roster(school, oneroster(demographics=demographics))
    import_files(school, oneroster(demographics=demographics))
    # then it is recorded, as a change of his record
    assert [r.changes for r in plan.listed("students", "change")] == [("age on record",)]
    assert Participant.objects.get(source_id="stu-2").date_of_birth == dt.date(2012, 3, 1)


def test_the_template_imports_and_reimports_idempotently(school: Organization) -> None:
    # given the filled-in template
    files = {"roster.csv": TEMPLATE.encode()}
    # when imported twice
    import_files(school, files)
    before = school_state(school)
    plan = plan_roster(school, files)
    import_files(school, files)
    # then the students, classes and guardians exist once, unchanged by the second import
    ben = Participant.objects.get(organization=school, source_id="S-2")
    assert (ben.birth_year, list(ben.classrooms.values_list("name", flat=True))) == (2013, ["7B"])
    assert sorted(ben.guardians.values_list("name", "relation")) == [
        ("Chidi Okafor", "guardian"),
        ("Ngozi Okafor", "aunt"),
    ]
    assert not plan.writes and school_state(school) == before


def test_a_teacher_not_on_the_staff_is_left_alone(school: Organization) -> None:
    # given no staff member with Tess's address / when previewed
    plan = plan_roster(school, oneroster())
    # then the link is listed as left alone, with the reason
    (row,) = plan.listed("staff links", "left alone")
    assert (row.label, row.changes) == (
        "Tess Teacher teaches 7B",
        ("no active teacher of the school has this e-mail address",),
    )
