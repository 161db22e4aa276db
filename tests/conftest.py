"""Shared fixtures, named for personas. Two schools, so every access test can cross schools."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.factories import (
    make_classroom,
    make_guardian,
    make_notice,
    make_organization,
    make_participant,
    make_staff,
)
from wellbeing.models import Classroom, Guardian, Organization, Participant, Role, StaffMember


@pytest.fixture
def school(db: Any) -> Organization:
    return make_organization("Northside School")


@pytest.fixture
def other_school(db: Any) -> Organization:
    return make_organization("Southside School")


@pytest.fixture
def admin(school: Organization) -> StaffMember:
    return make_staff(school, Role.ADMIN, "admin")


@pytest.fixture
def counselor(school: Organization) -> StaffMember:
    return make_staff(school, Role.COUNSELOR, "counselor")


@pytest.fixture
def teacher(school: Organization) -> StaffMember:
    return make_staff(school, Role.TEACHER, "teacher")


@pytest.fixture
def classroom(school: Organization, teacher: StaffMember) -> Classroom:
    return make_classroom(school, "7B", teacher=teacher)


@pytest.fixture
def student(school: Organization, classroom: Classroom, counselor: StaffMember) -> Participant:
    """A student in 7B on the counselor's caseload (no consent recorded yet)."""
    return make_participant(school, "Alex Student", classroom=classroom, counselor=counselor)


@pytest.fixture
def guardian(student: Participant) -> Guardian:
    return make_guardian(student)


@pytest.fixture
def notice(school: Organization) -> Any:
    return make_notice(school)


@pytest.fixture
def other_admin(other_school: Organization) -> StaffMember:
    return make_staff(other_school, Role.ADMIN, "other_admin")


@pytest.fixture
def other_student(other_school: Organization) -> Participant:
    return make_participant(other_school, "Other Student")


def login(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def database_url(port: int | None = None) -> str:
    """The tests' database as a URL, for the server and worker processes a test starts
    (``port``: reach it through another port, e.g. a proxy in front of PostgreSQL)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{port or db['PORT'] or 5432}/{db['NAME']}"
