"""bench.roster's generated OneRoster set reads without errors and its figures add up."""

from __future__ import annotations

from typing import Any

from bench.roster import oneroster_set, run
from consent.oneroster import parse_oneroster
from tests.factories import make_organization


def test_the_generated_set_is_valid_oneroster(db: Any) -> None:
    # given a set of 60 students (three groups of 25, 25, 10)
    roster = parse_oneroster(oneroster_set(60), make_organization().local_today())
    # then it reads without errors: 60 students, two guardians each, four classes a group
    assert roster.errors == []
    assert (len(roster.students), len(roster.guardians), len(roster.classes)) == (60, 120, 12)
    assert all(len(s.class_ids) == 4 and s.age is not None for s in roster.students.values())


def test_the_benchmark_imports_once_and_then_changes_only_what_changed(db: Any) -> None:
    # when the benchmark runs on 200 students (the first 2 renamed in the third import)
    figures = run(200)
    # then everything was created once, the unchanged re-import wrote nothing, and the
    # changed one changed exactly the renamed students
    assert (figures["students"], figures["guardians"], figures["classrooms"]) == (200, 400, 32)
    assert figures["first_created"] == {
        "classrooms": 32,
        "students": 200,
        "guardians": 400,
        "staff links": 0,
    }
    assert figures["reimport_writes"] == 0 and figures["changed_students"] == 2
