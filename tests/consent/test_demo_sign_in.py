"""The demo school's staff sign in with the passwords `make demo` prints and reach the product:
the demo asks no second factor of them (docs/demo.md), unlike a new real school."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from capture.demo import DEMO_PASSWORDS, seed_demo_school, sign_in_lines
from wellbeing.models import Organization


@pytest.mark.parametrize("role", ["admin", "counselor", "teacher"])
def test_each_demo_role_signs_in_to_the_home_page(db: Any, tmp_path: Path, role: str) -> None:
    # given the demo school (without the shared photos) and the password printed for the role
    seed_demo_school(tmp_path)
    printed = next(line for line in sign_in_lines() if line.split()[0] == role)
    password = printed.split("password:")[1].strip()
    assert password == DEMO_PASSWORDS[role]
    # when the role signs in with it
    client = Client()
    response = client.post(reverse("login"), {"username": role, "password": password}, follow=True)
    # then the home page answers, not the two-factor setup
    assert response.redirect_chain[-1][0] == reverse("dashboard:home")
    assert response.status_code == 200
    assert client.get(reverse("dashboard:home")).status_code == 200


def test_a_new_real_school_still_requires_two_factor_of_admins_and_counselors(db: Any) -> None:
    # given a school created as any other (not the demo)
    school = Organization.objects.create(name="Real School", slug="real-school")
    # then its policy is the default one
    assert sorted(school.two_factor_roles) == ["admin", "counselor"]
