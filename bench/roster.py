"""Roster import benchmark: a generated OneRoster 1.1 set of a 2,000-student school (a zip, as
admins upload it) previewed and imported, then imported again unchanged and with changes.

Runs on its own PostgreSQL database (``wellbeing_bench_roster``, recreated; bench.database).
Prints one JSON object: the set's size and the seconds each step took, measured around
consent.roster_plan.plan_roster and consent.roster_import.apply_roster (reading the zip included).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.roster
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import sys
import time
import zipfile
from typing import Any

GIVEN = ("Ada", "Ben", "Chloe", "Dev", "Eun", "Farah", "Gus", "Hana", "Ivo", "Jada", "Kofi", "Lena")
FAMILY = ("Okafor", "Martin", "Nguyen", "Silva", "Kowalski", "Haddad", "Berg", "Rossi", "Ito")
SUBJECTS = ("Maths", "English", "Science")
CLASS_SIZE = 25
SCHOOL_ID = "sch-north"


ORG_FIELDS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "name",
    "type",
    "identifier",
    "parentSourcedId",
]
USER_FIELDS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
]
CLASS_FIELDS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "title",
    "grades",
    "courseSourcedId",
    "classCode",
    "classType",
    "location",
    "schoolSourcedId",
    "termSourcedIds",
    "subjects",
    "subjectCodes",
    "periods",
]
ENROLLMENT_FIELDS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
]
DEMOGRAPHIC_FIELDS = ["sourcedId", "status", "dateLastModified", "birthDate", "sex"]

Row = dict[str, str]


def _csv(fields: list[str], rows: list[Row]) -> bytes:
    """One OneRoster CSV: the header, then each row with the fields it does not name left empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _classes(groups: int) -> list[Row]:
    """A homeroom and one class a subject for each group of CLASS_SIZE students."""
    classes = []
    for g in range(groups):
        grade = str(6 + g % 4)
        for subject in ("Homeroom", *SUBJECTS):
            classes.append(
                {
                    "sourcedId": f"cls-{g}-{subject.lower()}",
                    "title": f"{subject} {grade}-{g}",
                    "grades": grade,
                    "classCode": f"{subject[:3].upper()}{g}",
                    "classType": "scheduled",
                    "schoolSourcedId": SCHOOL_ID,
                    "termSourcedIds": "term-1",
                }
            )
    return classes


def _teacher(class_row: Row) -> tuple[Row, Row]:
    """The user row and the enrollment of the one teacher of a class."""
    t = "tea-" + class_row["sourcedId"].removeprefix("cls-")
    user = _person(t, "teacher", "Teacher", t) | {"email": f"{t}@north.example"}
    enrollment = {"sourcedId": f"enr-{t}", "classSourcedId": class_row["sourcedId"]}
    enrollment |= {"schoolSourcedId": SCHOOL_ID, "userSourcedId": t, "role": "teacher"}
    return user, enrollment | {"primary": "true"}


def _person(sourced_id: str, role: str, given: str, family: str) -> Row:
    return {
        "sourcedId": sourced_id,
        "enabledUser": "true",
        "orgSourcedIds": SCHOOL_ID,
        "role": role,
        "username": sourced_id,
        "givenName": given,
        "familyName": family,
    }


def _student(i: int, rng: random.Random, renamed: bool) -> tuple[list[Row], list[Row], Row]:
    """Student ``i``'s user row and its two guardians' (related both ways), the student's four
    enrollments and demographics row. Draws from ``rng`` in a fixed order (the set is seeded)."""
    g, sid = i // CLASS_SIZE, f"stu-{i}"
    family = FAMILY[rng.randrange(len(FAMILY))] + ("-Renamed" if renamed else "")
    parents = [f"par-{i}-1", f"par-{i}-2"]
    student = _person(sid, "student", GIVEN[rng.randrange(len(GIVEN))], family)
    users = [student | {"agentSourcedIds": ",".join(parents), "grades": str(6 + g % 4)}]
    for n, parent in enumerate(parents):
        guardian = _person(parent, "parent" if n == 0 else "guardian", "", family)
        guardian["givenName"] = GIVEN[rng.randrange(len(GIVEN))]
        contact = {"email": f"{parent}@family.example", "phone": f"+44 20 7946 {i % 10000:04d}"}
        users.append(guardian | contact | {"agentSourcedIds": sid})
    enrollments = []
    for subject in ("Homeroom", *SUBJECTS):
        cls = f"cls-{g}-{subject.lower()}"
        enrollments.append(
            {"sourcedId": f"enr-{sid}-{cls}", "classSourcedId": cls, "schoolSourcedId": SCHOOL_ID}
            | {"userSourcedId": sid, "role": "student", "primary": "false"}
        )
    born = dt.date(2012 + g % 4, 1, 1) + dt.timedelta(days=rng.randrange(365))
    sex = "female" if i % 2 else "male"
    return users, enrollments, {"sourcedId": sid, "birthDate": born.isoformat(), "sex": sex}


def oneroster_set(students: int, seed: int = 16, renamed: int = 0) -> dict[str, bytes]:
    """orgs, users, classes, enrollments and demographics CSVs of one school: each student in a
    homeroom and three subject classes (25 a class, each class with a teacher), two guardians
    each (related from both sides, as OneRoster allows), and a birth date. ``renamed`` students
    (the first ones) get another family name, for a re-import with changes."""
    rng = random.Random(seed)
    classes = _classes(max(1, -(-students // CLASS_SIZE)))
    teachers = [_teacher(c) for c in classes]
    users, enrollments = [user for user, _ in teachers], []
    demographics = []
    for i in range(students):
        people, joined, demographic = _student(i, rng, i < renamed)
        users += people
        enrollments += joined
        demographics.append(demographic)
    enrollments += [enrollment for _, enrollment in teachers]
    district = {"sourcedId": "dist-1", "name": "North District", "type": "district"}
    school = {"sourcedId": SCHOOL_ID, "name": "Northside School", "type": "school"}
    return {
        "orgs.csv": _csv(ORG_FIELDS, [district, school | {"parentSourcedId": "dist-1"}]),
        "users.csv": _csv(USER_FIELDS, users),
        "classes.csv": _csv(CLASS_FIELDS, classes),
        "enrollments.csv": _csv(ENROLLMENT_FIELDS, enrollments),
        "demographics.csv": _csv(DEMOGRAPHIC_FIELDS, demographics),
    }


def zipped(files: dict[str, bytes]) -> bytes:
    """The files as one zip, as a roster system exports them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _timed_import(ctx: Any, upload: bytes) -> tuple[float, float, dict[str, Any]]:
    """Seconds to preview and to import the zip (each reading it, as the pages do)."""
    from consent.roster_files import read_upload
    from consent.roster_import import apply_roster
    from consent.roster_plan import plan_roster

    started = time.perf_counter()
    plan = plan_roster(ctx.organization, read_upload([("roster.zip", upload)]))
    previewed = time.perf_counter()
    assert not plan.errors, plan.errors[:5]
    apply_roster(ctx, read_upload([("roster.zip", upload)]), reviewed=plan.token)
    return previewed - started, time.perf_counter() - previewed, plan.counts()


def run(students: int) -> dict[str, Any]:
    from wellbeing.actions import AuditContext
    from wellbeing.models import AuditEvent, Guardian, Organization, Participant

    org = Organization.objects.create(
        name="Northside School", slug="bench-roster", jurisdiction="uk"
    )
    ctx = AuditContext.system(org, "bench")
    first = zipped(oneroster_set(students))
    preview_s, import_s, counts = _timed_import(ctx, first)
    again_preview_s, again_import_s, again = _timed_import(ctx, first)
    changed = zipped(oneroster_set(students, renamed=students // 100))
    changed_preview_s, changed_import_s, changes = _timed_import(ctx, changed)
    return {
        "students": Participant.objects.filter(organization=org).count(),
        "guardians": Guardian.objects.filter(participant__organization=org).count(),
        "classrooms": org.classrooms.count(),
        "zip_bytes": len(first),
        "first_preview_s": round(preview_s, 2),
        "first_import_s": round(import_s, 2),
        "first_total_s": round(preview_s + import_s, 2),
        "first_created": {k: v["create"] for k, v in counts.items()},
        "reimport_total_s": round(again_preview_s + again_import_s, 2),
        "reimport_writes": sum(v["create"] + v["change"] for v in again.values()),
        "changed_total_s": round(changed_preview_s + changed_import_s, 2),
        "changed_students": changes["students"]["change"],
        "audit_events": AuditEvent.objects.filter(organization=org).count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    args = parser.parse_args(argv)
    from bench.database import bench_database_url, recreate_database, setup_django

    url = bench_database_url("wellbeing_bench_roster")
    recreate_database(url)
    setup_django(url)
    print(json.dumps({"benchmark": "roster", **run(args.students)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
