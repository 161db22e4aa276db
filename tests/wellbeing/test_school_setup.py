"""The operator's first school and admin: created once, then left alone, refused when taken."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from wellbeing.actions import (
    PasswordRequired,
    SchoolSetupRefused,
    SchoolWanted,
    create_school_with_admin,
)
from wellbeing.models import AuditEvent, Organization, Role, StaffMember

PASSWORD = "lantern-orchard-71"
HILLTOP = SchoolWanted(
    name="Hilltop Academy", slug="hilltop", jurisdiction="uk", timezone="Europe/London"
)


def _set_up(
    wanted: SchoolWanted = HILLTOP, email: str = "Head@Hilltop.example", password: Any = PASSWORD
) -> Any:
    return create_school_with_admin(wanted, "Ada Head", email, password)


def test_creates_the_school_and_an_admin_who_can_sign_in(db: Any) -> None:
    # when the operator sets up a new school
    setup = _set_up()
    # then the school exists as described, with one admin whose sign-in name is the address
    school = Organization.objects.get(slug="hilltop")
    assert (school.name, school.jurisdiction, school.timezone) == (
        "Hilltop Academy",
        "uk",
        "Europe/London",
    )
    assert setup.school_created and setup.admin_created
    admin = StaffMember.objects.get(organization=school)
    assert (admin.role, admin.user.username, admin.user.email) == (
        Role.ADMIN,
        "head@hilltop.example",
        "head@hilltop.example",
    )
    assert not admin.user.is_staff and not admin.user.is_superuser  # no Django admin
    client = Client()
    client.post("/accounts/login/", {"username": "head@hilltop.example", "password": PASSWORD})
    assert client.get("/").wsgi_request.user == admin.user
    # and both creations are on the school's audit trail, without the password
    events = AuditEvent.objects.filter(organization=school).order_by("pk")
    assert [e.action for e in events] == ["school.create", "staff.create_admin"]
    assert PASSWORD not in str([e.detail for e in events])


def test_running_it_again_changes_nothing_and_needs_no_password(db: Any) -> None:
    # given a school set up once
    first = _set_up()
    password_hash = first.admin.user.password
    # when the same command runs again, without a password
    again = _set_up(email="head@hilltop.example", password=None)
    # then it finds the same school and admin and creates nothing
    assert (again.school.pk, again.admin.pk) == (first.school.pk, first.admin.pk)
    assert not again.school_created and not again.admin_created
    assert again.differences == ()
    assert Organization.objects.count() == 1 and User.objects.count() == 1
    assert User.objects.get().password == password_hash
    assert AuditEvent.objects.count() == 2


def test_a_second_run_reports_what_differs_and_leaves_it(db: Any) -> None:
    # given a school set up in the UK
    _set_up()
    # when the command runs again with another name and time zone
    moved = SchoolWanted("Hilltop School", "hilltop", "uk", "Europe/Dublin")
    again = _set_up(moved, password=None)
    # then the differences are named and the stored school keeps its values
    assert again.differences == ("name", "timezone")
    assert Organization.objects.get().timezone == "Europe/London"


def test_refuses_a_school_that_has_another_admin(school: Organization, admin: StaffMember) -> None:
    # given a school whose admin is admin@example.org
    wanted = SchoolWanted(school.name, school.slug, school.jurisdiction, school.timezone)
    # when the operator names a different admin for it
    with pytest.raises(SchoolSetupRefused) as refused:
        _set_up(wanted, email="newhead@example.org")
    # then it says which admin the school has, and creates no account
    assert "already exists with another admin (admin@example.org)" in str(refused.value)
    assert not User.objects.filter(username="newhead@example.org").exists()


def test_gives_a_school_without_any_admin_its_first(school: Organization) -> None:
    # given a school the operator made in Django admin, with no staff yet
    wanted = SchoolWanted(school.name, school.slug, school.jurisdiction, school.timezone)
    # when the command names its admin
    setup = _set_up(wanted)
    # then the admin is created for the existing school
    assert not setup.school_created and setup.admin_created
    assert setup.admin.organization == school and setup.admin.role == Role.ADMIN


def test_refuses_an_address_that_belongs_to_another_account(
    db: Any, other_admin: StaffMember
) -> None:
    # given another school's admin other_admin@example.org
    # when a new school is set up with that address for its admin
    with pytest.raises(SchoolSetupRefused, match=r"other_admin@example\.org already exists"):
        _set_up(email="other_admin@example.org")
    # then the new school is not left behind without an admin
    assert not Organization.objects.filter(slug="hilltop").exists()


@pytest.mark.parametrize(
    ("password", "refusal"),
    [(None, PasswordRequired), ("password", SchoolSetupRefused), ("short1", SchoolSetupRefused)],
)
def test_refuses_a_missing_or_weak_password_and_creates_nothing(
    db: Any, password: str | None, refusal: type[Exception]
) -> None:
    # when the admin account is needed and the password is missing, common or too short
    with pytest.raises(refusal):
        _set_up(password=password)
    # then neither the school nor an account exists
    assert not Organization.objects.exists() and not User.objects.exists()


def test_refuses_an_unknown_time_zone_with_the_reason(db: Any) -> None:
    # when the time zone is not an IANA name
    with pytest.raises(SchoolSetupRefused, match="not a known IANA time zone"):
        _set_up(SchoolWanted("Hilltop Academy", "hilltop", "uk", "Europe/Hilltop"))
    # then nothing is created
    assert not Organization.objects.exists()
