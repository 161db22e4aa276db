"""Reading roster uploads: OneRoster 1.1 sets and the roster template, and every row error
naming its file, line and column (consent.roster_files, consent.oneroster)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from consent import roster_files
from consent.oneroster import parse_oneroster
from consent.roster_files import RosterUnreadable, RowError, parse_template, read_upload
from consent.roster_plan import read_roster
from consent.rule_changes import AgeOnRecord
from tests.consent.roster_sets import CLASSES, ENROLLMENTS, TEMPLATE, USERS, oneroster, zipped

TODAY = dt.date(2026, 12, 4)


def errors_of(files: dict[str, bytes], school_id: str = "") -> list[RowError]:
    return parse_oneroster(files, TODAY, school_id).errors


def test_a_oneroster_set_gives_classes_students_guardians_and_teachers() -> None:
    # given the small OneRoster set / when it is read
    roster = parse_oneroster(oneroster(), TODAY)
    # then it has no errors, and says who is in which class, with which guardians
    assert roster.errors == []
    assert {c.source_id: (c.name, c.grade) for c in roster.classes.values()} == {
        "cls-7b": ("7B", "07"),
        "cls-art": ("Art 7", "07"),
    }
    ada, ben = roster.students["stu-1"], roster.students["stu-2"]
    assert (ada.full_name, ada.grade, ada.class_ids) == (
        "Ada Lovelace",
        "07",
        ["cls-7b", "cls-art"],
    )
    assert ada.age == AgeOnRecord(dt.date(2013, 12, 10))
    assert ben.age is None  # no birthDate for Ben in demographics.csv
    # and guardian relations come from the student's row (par-1, par-3) or the guardian's (par-2)
    assert ada.guardian_ids == ["par-1"]
    assert sorted(ben.guardian_ids) == ["par-2", "par-3"]
    anne = roster.guardians["par-1"]
    assert (anne.name, anne.relation, anne.email, anne.phone) == (
        "Anne Lovelace",
        "parent",
        "anne@example.org",
        "+44 20 7946 0001",
    )
    assert roster.guardians["par-3"].relation == "relative"
    # and Tess teaches 7B
    assert roster.classes["cls-7b"].teacher_ids == ["tea-1"]
    assert roster.teachers["tea-1"].email == "teacher@example.org"


def test_a_zip_and_the_separate_files_read_the_same() -> None:
    # given the set once as a zip (in a folder) and once as separate files
    as_zip = read_upload([("export.zip", zipped(oneroster()))])
    separate = read_upload(list(oneroster().items()))
    # then both give the same files, and the same roster
    assert as_zip == separate
    assert parse_oneroster(as_zip, TODAY) == parse_oneroster(separate, TODAY)


def test_unreadable_uploads_are_refused_with_a_reason() -> None:
    # a picture, the same file twice, and no file at all
    with pytest.raises(RosterUnreadable, match="neither a CSV file nor a zip"):
        read_upload([("photo.png", b"\x89PNG....")])
    with pytest.raises(RosterUnreadable, match=r"users\.csv was uploaded twice"):
        read_upload([("users.csv", b"a"), ("x.zip", zipped({"users.csv": b"a"}))])
    with pytest.raises(RosterUnreadable, match="No CSV file"):
        read_upload([("empty.zip", zipped({}))])


def test_a_zip_that_unpacks_too_large_is_refused_before_it_is_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a limit of 1 kB and a zip of 5 kB of zeros (a few bytes compressed)
    monkeypatch.setattr(roster_files, "MAX_ROSTER_BYTES", 1000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.csv", b"0" * 5000)
    assert len(out.getvalue()) < 1000
    # then it is refused from the sizes its directory declares
    with pytest.raises(RosterUnreadable, match="unpacks to more than"):
        read_upload([("bomb.zip", out.getvalue())])


def test_each_problem_names_its_file_line_and_column() -> None:
    # given a users.csv with a bad e-mail (line 4), an unknown agent (line 3) and an unknown
    # role (line 7, so enrolling them as a teacher on line 5 is wrong too), an enrollment in an
    # unknown class (line 6) and a bad birth date
    users = USERS.replace("Anne@Example.org", "anne-at-example").replace(",par-3,07,", ",par-9,07,")
    users = users.replace("teacher,tess", "janitor,tess")
    enrollments = ENROLLMENTS + "enr-5,,,cls-nope,sch-1,stu-2,student,false,,\n"
    demographics = "sourcedId,status,dateLastModified,birthDate,sex\nstu-1,,,10/12/2013,female\n"
    # when the set is read
    found = errors_of(oneroster(users=users, enrollments=enrollments, demographics=demographics))
    # then every problem is one error at its place
    assert [(e.file, e.line, e.column) for e in found] == [
        ("users.csv", 7, "role"),
        ("enrollments.csv", 5, "role"),
        ("enrollments.csv", 6, "classSourcedId"),
        ("users.csv", 4, "email"),
        ("users.csv", 3, "agentSourcedIds"),
        ("demographics.csv", 2, "birthDate"),
    ]
    messages = {(e.file, e.line): e.message for e in found}
    assert messages["users.csv", 4] == "'anne-at-example' is not an e-mail address."
    assert messages["users.csv", 3] == "no user 'par-9' in users.csv."
    assert messages["enrollments.csv", 5] == "'tea-1' is a janitor in users.csv, not a teacher."
    assert messages["enrollments.csv", 6] == "no class 'cls-nope' of this school in classes.csv."
    assert messages["demographics.csv", 2] == "'10/12/2013' is not a date (YYYY-MM-DD)."
    assert str(found[0]) == "users.csv, line 7, role: 'janitor' is not a OneRoster 1.1 role."


def test_missing_files_columns_and_duplicate_ids_are_errors() -> None:
    # given no enrollments.csv / then that is the one error
    assert [str(e) for e in errors_of(oneroster(enrollments=""))] == [
        "enrollments.csv: this file is missing from the upload."
    ]
    # given a users.csv without familyName / then line 1 names the column
    no_family = USERS.replace("givenName,familyName", "givenName,surname")
    assert [(e.file, e.line, e.column) for e in errors_of(oneroster(users=no_family))] == [
        ("users.csv", 1, "familyName")
    ]
    # given stu-1 twice / then the second is an error naming the first line
    twice = USERS + "stu-1,,,true,sch-1,student,ada2,,Ada,Again,,,,,,,07,\n"
    (error,) = errors_of(oneroster(users=twice))
    assert (error.line, error.column, error.message) == (
        8,
        "sourcedId",
        "'stu-1' is also on line 2.",
    )


def test_a_birth_date_in_the_future_is_an_error() -> None:
    demographics = "sourcedId,status,dateLastModified,birthDate,sex\nstu-1,,,2030-01-01,female\n"
    (error,) = errors_of(oneroster(demographics=demographics))
    assert (error.file, error.line, error.column) == ("demographics.csv", 2, "birthDate")
    assert "between" in error.message


def test_rows_to_be_deleted_are_skipped_and_nothing_else() -> None:
    # given Ben marked tobedeleted
    users = USERS.replace("stu-2,,,", "stu-2,tobedeleted,,")
    enrollments = ENROLLMENTS.replace("enr-3,,,", "enr-3,tobedeleted,,")
    # when read / then Ben is not in the roster, and it is no error
    roster = parse_oneroster(oneroster(users=users, enrollments=enrollments), TODAY)
    assert roster.errors == [] and set(roster.students) == {"stu-1"}


def test_files_of_several_schools_need_the_school_named() -> None:
    # given a second school with one class and one student
    classes = CLASSES + "cls-s2,,,Year 9,09,,Y9,homeroom,,sch-2,,,,\n"
    users = USERS + "stu-9,,,true,sch-2,student,zed,,Zed,South,,,,,,,09,\n"
    enrollments = ENROLLMENTS + "enr-9,,,cls-s2,sch-2,stu-9,student,false,,\n"
    files = oneroster(classes=classes, users=users, enrollments=enrollments)
    # when no school is named / then that is an error listing both
    (error,) = errors_of(files)
    assert error.column == "schoolSourcedId"
    assert "sch-1 (Northside School), sch-2 (not in orgs.csv)" in error.message
    # when ours is named / then only its classes and students are read
    roster = parse_oneroster(files, TODAY, "sch-1")
    assert roster.errors == []
    assert set(roster.classes) == {"cls-7b", "cls-art"} and set(roster.students) == {
        "stu-1",
        "stu-2",
    }
    # when an unknown one is named / then that is the error
    assert "no school has the sourcedId 'sch-7'" in str(errors_of(files, "sch-7")[0])


def test_the_template_gives_students_classes_guardians_and_ages() -> None:
    # given the filled-in template / when read
    roster = parse_template({"roster.csv": TEMPLATE.encode()}, TODAY)
    # then
    assert roster.errors == []
    ada, ben = roster.students["S-1"], roster.students["S-2"]
    assert ada.class_ids == ["class:7B", "class:Art 7"] and ben.class_ids == ["class:7B"]
    assert roster.classes["class:7B"].grade is None  # the template says nothing of it
    assert ada.age == AgeOnRecord(dt.date(2013, 12, 10)) and ben.age == AgeOnRecord(None, 2013)
    assert [roster.guardians[g].name for g in ben.guardian_ids] == ["Chidi Okafor", "Ngozi Okafor"]
    assert roster.guardians["S-2/guardian1"].relation == "guardian"  # the default
    assert roster.guardians["S-2/guardian2"].phone == "+44 20 7946 0003"


def test_template_errors_name_line_and_column() -> None:
    # given a row without a name, and one with a guardian e-mail but no guardian name
    text = TEMPLATE + "S-3,,8,,,,,,,,,,,,\nS-4,Cleo Hart,8,,,,,,,cleo.parent@example.org,,,,,\n"
    found = parse_template({"roster.csv": text.encode()}, TODAY).errors
    assert [(e.line, e.column, e.message) for e in found] == [
        (4, "full_name", "is empty."),
        (5, "guardian_name", "is empty, but a contact is given."),
    ]


def test_the_format_is_told_by_the_files() -> None:
    assert read_roster(oneroster(), TODAY).format == "OneRoster 1.1"
    assert read_roster({"roster.csv": TEMPLATE.encode()}, TODAY).format == "roster template"
    with pytest.raises(RosterUnreadable, match=r"OneRoster 1\.1 files"):
        read_roster({"a.csv": b"x", "b.csv": b"y"}, TODAY)


def test_the_downloadable_template_reads_without_errors() -> None:
    # given the template as downloaded (its example rows) / when read as an upload
    roster = parse_template({"roster.csv": roster_files.template_csv().encode()}, TODAY)
    # then its two example students read cleanly
    assert roster.errors == [] and len(roster.students) == 2
