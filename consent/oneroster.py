"""OneRoster 1.1 CSV files into a :class:`consent.roster_files.RosterIn`.

Read: ``orgs.csv`` (which school), ``users.csv`` (students, their guardians through
``agentSourcedIds`` from either side, teachers), ``classes.csv``, ``enrollments.csv`` (students in
classes, teachers of classes) and, when present, ``demographics.csv`` (``birthDate``). Other
files of the standard (courses, academic sessions, ...) are not needed and are noted as ignored.
Rows whose ``status`` is ``tobedeleted`` are skipped: an import never deletes anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from consent.roster_files import (
    FORMAT_ONEROSTER,
    MAX_CLASS_NAME,
    MAX_GRADE,
    MAX_NAME,
    MAX_PHONE,
    MAX_SOURCE_ID,
    ClassIn,
    GuardianIn,
    RosterIn,
    StudentIn,
    TeacherIn,
    check_header,
    checked_age,
    checked_email,
    checked_text,
    csv_rows,
    parse_date,
)
from consent.rule_changes import AgeOnRecord

REQUIRED_FILES = ("users.csv", "classes.csv", "enrollments.csv")
READ_FILES = (*REQUIRED_FILES, "orgs.csv", "demographics.csv", "manifest.csv")
COLUMNS = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "users.csv": ("sourcedId", "role", "givenName", "familyName"),
    "classes.csv": ("sourcedId", "title", "schoolSourcedId"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
    "demographics.csv": ("sourcedId", "birthDate"),
}
GUARDIAN_ROLES = ("parent", "guardian", "relative")
ROLES = ("administrator", "aide", "proctor", "student", "teacher", *GUARDIAN_ROLES)


def is_oneroster(files: dict[str, bytes]) -> bool:
    return any(name in files for name in REQUIRED_FILES)


def parse_oneroster(files: dict[str, bytes], today: dt.date, school_id: str = "") -> RosterIn:
    """The school ``school_id`` (a ``sourcedId`` of orgs.csv; may be blank when the classes
    name only one school) of a OneRoster 1.1 CSV set."""
    roster = RosterIn(FORMAT_ONEROSTER)
    missing = [name for name in REQUIRED_FILES if name not in files]
    for name in missing:
        roster.error(name, 0, "", "this file is missing from the upload.")
    if missing:
        return roster
    # A file without its columns would make every reference into it an error too: stop here.
    for name in (n for n in COLUMNS if n in files):
        check_header(roster, files, name, COLUMNS[name])
    if roster.errors:
        return roster
    ignored = sorted(set(files) - set(READ_FILES))
    if ignored:
        roster.notes.append(f"Not needed, so not read: {', '.join(ignored)}.")
    schools = _school_names(roster, files)
    class_rows = list(_live_rows(roster, files, "classes.csv"))
    chosen = _chosen_school(roster, schools, class_rows, school_id)
    if chosen is None:
        return roster
    school_id = chosen
    _read_classes(roster, class_rows, school_id)
    users = {}
    for line, row in _live_rows(roster, files, "users.csv"):
        if row["role"].lower() not in ROLES:
            roster.error("users.csv", line, "role", f"{row['role']!r} is not a OneRoster 1.1 role.")
        users[row["sourcedid"]] = (line, row)
    _read_enrollments(roster, files, users, school_id)
    in_files = set(schools) | {row["schoolsourcedid"] for _, row in class_rows}
    _read_unenrolled_students(roster, users, school_id, only_school=len(in_files) <= 1)
    _read_guardians(roster, users)
    if "demographics.csv" in files:
        _read_birth_dates(roster, files, today)
    else:
        roster.notes.append("No demographics.csv: ages are left as they are on record.")
    return roster


def _live_rows(
    roster: RosterIn, files: dict[str, bytes], name: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with a sourcedId, not marked ``tobedeleted``, each sourcedId once."""
    seen: dict[str, int] = {}
    for line, row in csv_rows(roster, files, name, COLUMNS[name]):
        source_id = row["sourcedid"]
        if not source_id:
            roster.error(name, line, "sourcedId", "is empty.")
        elif len(source_id) > MAX_SOURCE_ID:
            roster.error(name, line, "sourcedId", f"longer than {MAX_SOURCE_ID} characters.")
        elif source_id in seen:
            roster.error(
                name, line, "sourcedId", f"{source_id!r} is also on line {seen[source_id]}."
            )
        elif row.get("status", "").lower() != "tobedeleted":
            seen[source_id] = line
            yield line, row


def _school_names(roster: RosterIn, files: dict[str, bytes]) -> dict[str, str]:
    if "orgs.csv" not in files:
        return {}
    return {
        row["sourcedid"]: row["name"]
        for _, row in _live_rows(roster, files, "orgs.csv")
        if row["type"].lower() == "school"
    }


def _chosen_school(
    roster: RosterIn,
    schools: dict[str, str],
    class_rows: list[tuple[int, dict[str, str]]],
    chosen: str,
) -> str | None:
    """The school to import: the one asked for, or the only one the classes name."""
    in_classes = {row["schoolsourcedid"] for _, row in class_rows}
    known = set(schools) | in_classes
    if chosen:
        if chosen not in known:
            roster.error("orgs.csv", 0, "sourcedId", f"no school has the sourcedId {chosen!r}.")
            return None
        return chosen
    if len(in_classes) == 1:
        return next(iter(in_classes))
    if not in_classes and len(schools) == 1:
        return next(iter(schools))
    listed = ", ".join(f"{sid} ({schools.get(sid, 'not in orgs.csv')})" for sid in sorted(known))
    roster.error(
        "classes.csv",
        0,
        "schoolSourcedId",
        f"the files cover {len(known)} schools; say which one is yours: {listed or 'none'}.",
    )
    return None


def _read_classes(
    roster: RosterIn, class_rows: list[tuple[int, dict[str, str]]], school_id: str
) -> None:
    ours = [(line, row) for line, row in class_rows if row["schoolsourcedid"] == school_id]
    titles = [row["title"] for _, row in ours]
    for line, row in ours:
        where = ("classes.csv", line)
        title = row["title"]
        if not title:
            roster.error(*where, "title", "is empty.")
            continue
        if titles.count(title) > 1:  # two sections of one course: tell them apart
            title = f"{title} ({row.get('classcode') or row['sourcedid']})"
        name = checked_text(roster, where, "title", title, MAX_CLASS_NAME)
        grade = checked_text(roster, where, "grades", _grades(row), MAX_GRADE)
        roster.classes[row["sourcedid"]] = ClassIn(row["sourcedid"], name, grade, where)


def _grades(row: dict[str, str]) -> str:
    return ", ".join(g.strip() for g in row.get("grades", "").split(",") if g.strip())


def _name(row: dict[str, str]) -> str:
    return " ".join(filter(None, (row["givenname"], row["familyname"])))


def _student(roster: RosterIn, line: int, row: dict[str, str]) -> StudentIn | None:
    """The student of a users.csv row (made once), or None with an error."""
    source_id = row["sourcedid"]
    if source_id in roster.students:
        return roster.students[source_id]
    where = ("users.csv", line)
    full_name = checked_text(roster, where, "givenName", _name(row), MAX_NAME)
    if not full_name:
        roster.error(*where, "givenName", "the student has no name (givenName, familyName).")
        return None
    grade = checked_text(roster, where, "grades", _grades(row), MAX_GRADE)
    email = checked_email(roster, where, "email", row.get("email", ""))
    student = StudentIn(source_id, full_name, grade, ("users.csv", line), email=email)
    roster.students[source_id] = student
    return student


def _read_enrollments(
    roster: RosterIn,
    files: dict[str, bytes],
    users: dict[str, tuple[int, dict[str, str]]],
    school_id: str,
) -> None:
    for line, row in _live_rows(roster, files, "enrollments.csv"):
        school = row.get("schoolsourcedid", "")
        class_id, user_id, role = row["classsourcedid"], row["usersourcedid"], row["role"].lower()
        if class_id not in roster.classes:
            if not school or school == school_id:
                roster.error(
                    "enrollments.csv",
                    line,
                    "classSourcedId",
                    f"no class {class_id!r} of this school in classes.csv.",
                )
            continue
        if user_id not in users:
            roster.error(
                "enrollments.csv", line, "userSourcedId", f"no user {user_id!r} in users.csv."
            )
            continue
        user_line, user = users[user_id]
        user_role = user["role"].lower()
        if role in ("student", "teacher") and user_role != role:
            roster.error(
                "enrollments.csv",
                line,
                "role",
                f"{user_id!r} is a {user_role} in users.csv, not a {role}.",
            )
        elif role == "student":
            _enrol(roster, user_line, user, class_id)
        elif role == "teacher":
            _teach(roster, user_line, user, class_id)


def _enrol(roster: RosterIn, line: int, user: dict[str, str], class_id: str) -> None:
    student = _student(roster, line, user)
    if student is not None and class_id not in student.class_ids:
        student.class_ids.append(class_id)


def _teach(roster: RosterIn, line: int, user: dict[str, str], class_id: str) -> None:
    source_id = user["sourcedid"]
    if source_id not in roster.teachers:
        email = checked_email(roster, ("users.csv", line), "email", user.get("email", ""))
        roster.teachers[source_id] = TeacherIn(source_id, _name(user), email, ("users.csv", line))
    if source_id not in roster.classes[class_id].teacher_ids:
        roster.classes[class_id].teacher_ids.append(source_id)


def _read_unenrolled_students(
    roster: RosterIn,
    users: dict[str, tuple[int, dict[str, str]]],
    school_id: str,
    *,
    only_school: bool,
) -> None:
    """Students of the school in no class of the file are imported too (without classes)."""
    for line, row in users.values():
        if row["role"].lower() != "student" or row["sourcedid"] in roster.students:
            continue
        orgs = {o.strip() for o in row.get("orgsourcedids", "").split(",")}
        if only_school or school_id in orgs:
            _student(roster, line, row)


def _read_guardians(roster: RosterIn, users: dict[str, tuple[int, dict[str, str]]]) -> None:
    """Guardian relations from ``agentSourcedIds``, on the student's row or the guardian's (a
    guardian's row may name children of other schools, or ones to be deleted: not errors)."""
    for line, row in users.values():
        agents = [a.strip() for a in row.get("agentsourcedids", "").split(",") if a.strip()]
        role, source_id = row["role"].lower(), row["sourcedid"]
        for agent_id in agents:
            if role == "student" and source_id in roster.students:
                if agent_id not in users:
                    roster.error(
                        "users.csv", line, "agentSourcedIds", f"no user {agent_id!r} in users.csv."
                    )
                else:
                    _relate(roster, roster.students[source_id], users[agent_id])
            elif role in GUARDIAN_ROLES and agent_id in roster.students:
                _relate(roster, roster.students[agent_id], (line, row))


def _relate(roster: RosterIn, student: StudentIn, guardian: tuple[int, dict[str, str]]) -> None:
    line, row = guardian
    where = ("users.csv", line)
    role = row["role"].lower()
    if role not in GUARDIAN_ROLES:
        roster.error(
            *where,
            "role",
            f"listed as an agent of student {student.source_id!r}, but a {role}, "
            "not a parent, guardian or relative.",
        )
        return
    source_id = row["sourcedid"]
    if source_id not in roster.guardians:
        name = checked_text(roster, where, "givenName", _name(row), MAX_NAME)
        if not name:
            roster.error(*where, "givenName", "the guardian has no name (givenName, familyName).")
            return
        roster.guardians[source_id] = GuardianIn(
            source_id,
            name,
            role,
            checked_email(roster, where, "email", row.get("email", "")),
            checked_text(roster, where, "phone", row.get("phone") or row.get("sms", ""), MAX_PHONE),
            ("users.csv", line),
        )
    if source_id not in student.guardian_ids:
        student.guardian_ids.append(source_id)


def _read_birth_dates(roster: RosterIn, files: dict[str, bytes], today: dt.date) -> None:
    for line, row in _live_rows(roster, files, "demographics.csv"):
        student = roster.students.get(row["sourcedid"])
        if student is None or not row["birthdate"]:
            continue  # staff, guardians, other schools' students: not needed
        where = ("demographics.csv", line)
        born = parse_date(roster, where, "birthDate", row["birthdate"])
        if born is not None:
            student.age = checked_age(roster, where, "birthDate", AgeOnRecord(born), today)
