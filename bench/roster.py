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


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def oneroster_set(students: int, seed: int = 16, renamed: int = 0) -> dict[str, bytes]:
    """orgs, users, classes, enrollments and demographics CSVs of one school: each student in a
    homeroom and three subject classes (25 a class, each class with a teacher), two guardians
    each (related from both sides, as OneRoster allows), and a birth date. ``renamed`` students
    (the first ones) get another family name, for a re-import with changes."""
    rng = random.Random(seed)
    groups = max(1, -(-students // CLASS_SIZE))
    classes, teachers = [], []
    for g in range(groups):
        grade = str(6 + g % 4)
        for subject in ("Homeroom", *SUBJECTS):
            sid = f"cls-{g}-{subject.lower()}"
            classes.append(
                [
                    sid,
                    "",
                    "",
                    f"{subject} {grade}-{g}",
                    grade,
                    "",
                    f"{subject[:3].upper()}{g}",
                    "scheduled",
                    "",
                    SCHOOL_ID,
                    "term-1",
                    "",
                    "",
                    "",
                ]
            )
            teachers.append(f"tea-{g}-{subject.lower()}")
    users = [
        [
            t,
            "",
            "",
            "true",
            SCHOOL_ID,
            "teacher",
            t,
            "",
            "Teacher",
            t,
            "",
            "",
            f"{t}@north.example",
            "",
            "",
            "",
            "",
            "",
        ]
        for t in teachers
    ]
    enrollments, demographics = [], []
    for i in range(students):
        g, sid = i // CLASS_SIZE, f"stu-{i}"
        family = FAMILY[rng.randrange(len(FAMILY))] + ("-Renamed" if i < renamed else "")
        parents = [f"par-{i}-1", f"par-{i}-2"]
        users.append(
            [
                sid,
                "",
                "",
                "true",
                SCHOOL_ID,
                "student",
                sid,
                "",
                GIVEN[rng.randrange(len(GIVEN))],
                family,
                "",
                "",
                "",
                "",
                "",
                ",".join(parents),
                str(6 + g % 4),
                "",
            ]
        )
        for n, parent in enumerate(parents):
            relation = "parent" if n == 0 else "guardian"
            users.append(
                [
                    parent,
                    "",
                    "",
                    "true",
                    SCHOOL_ID,
                    relation,
                    parent,
                    "",
                    GIVEN[rng.randrange(len(GIVEN))],
                    family,
                    "",
                    "",
                    f"{parent}@family.example",
                    "",
                    f"+44 20 7946 {i % 10000:04d}",
                    sid,
                    "",
                    "",
                ]
            )
        for subject in ("Homeroom", *SUBJECTS):
            cls = f"cls-{g}-{subject.lower()}"
            enrollments.append(
                [f"enr-{sid}-{cls}", "", "", cls, SCHOOL_ID, sid, "student", "false", "", ""]
            )
        born = dt.date(2012 + g % 4, 1, 1) + dt.timedelta(days=rng.randrange(365))
        demographics.append([sid, "", "", born.isoformat(), "female" if i % 2 else "male"])
    for c, teacher in zip(classes, teachers, strict=True):
        enrollments.append(
            [f"enr-{teacher}", "", "", c[0], SCHOOL_ID, teacher, "teacher", "true", "", ""]
        )
    return {
        "orgs.csv": _csv(
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "name",
                "type",
                "identifier",
                "parentSourcedId",
            ],
            [
                ["dist-1", "", "", "North District", "district", "", ""],
                [SCHOOL_ID, "", "", "Northside School", "school", "", "dist-1"],
            ],
        ),
        "users.csv": _csv(
            [
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
            ],
            users,
        ),
        "classes.csv": _csv(
            [
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
            ],
            classes,
        ),
        "enrollments.csv": _csv(
            [
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
            ],
            enrollments,
        ),
        "demographics.csv": _csv(
            ["sourcedId", "status", "dateLastModified", "birthDate", "sex"], demographics
        ),
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
