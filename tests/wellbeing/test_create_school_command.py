"""``manage.py create_school``: parses, takes the password safely, prints what it did."""

from __future__ import annotations

import getpass
import io
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from wellbeing.models import Organization, StaffMember

PASSWORD = "lantern-orchard-71"
ARGS = [
    "--name=Hilltop Academy",
    "--jurisdiction=uk",
    "--timezone=Europe/London",
    "--admin-email=head@hilltop.example",
    "--admin-name=Ada Head",
]


def _run(*extra: str) -> str:
    out = StringIO()
    call_command("create_school", *ARGS, *extra, stdout=out)
    return out.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A terminal whose password prompts are answered, in order, from the returned list."""
    answers: list[str] = []
    monkeypatch.delenv("SCHOOL_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": answers.pop(0))
    yield answers


def test_creates_from_the_environment_password_and_says_so(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the password in the environment
    monkeypatch.setenv("SCHOOL_ADMIN_PASSWORD", PASSWORD)
    # when the operator runs the command
    output = _run()
    # then it names what it created and where to sign in, and never prints the password
    assert "Created school 'Hilltop Academy' (slug hilltop-academy, jurisdiction uk" in output
    assert "Created school admin head@hilltop.example." in output
    assert f"Sign in at {settings.SITE_URL}/accounts/login/" in output
    assert PASSWORD not in output
    assert StaffMember.objects.get().user.check_password(PASSWORD)


def test_a_second_run_says_nothing_changed(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the school set up once
    monkeypatch.setenv("SCHOOL_ADMIN_PASSWORD", PASSWORD)
    _run()
    # when it runs again without a password at hand
    monkeypatch.delenv("SCHOOL_ADMIN_PASSWORD")
    output = _run("--timezone=Europe/Dublin")
    # then it reports the existing school and admin as left unchanged, and what differs
    assert "exists: left unchanged" in output
    assert "Its timezone differs from the one given" in output
    assert "head@hilltop.example is this school's admin already: password left unchanged" in output
    assert Organization.objects.count() == 1


def test_refuses_a_school_with_another_admin_as_an_error(
    admin: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given Northside with its admin, and a password for a new one
    monkeypatch.setenv("SCHOOL_ADMIN_PASSWORD", PASSWORD)
    # when the command names a different admin for Northside
    with pytest.raises(CommandError, match="already exists with another admin"):
        _run(f"--slug={admin.organization.slug}")
    # then Northside keeps its one admin
    assert StaffMember.objects.filter(organization=admin.organization).count() == 1


def test_without_a_password_or_terminal_it_says_how_to_give_one(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given no password in the environment and input that is not a terminal (a pipe, CI)
    monkeypatch.delenv("SCHOOL_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO())
    # when the command runs / then it refuses, naming the variable, and creates nothing
    with pytest.raises(CommandError, match="Set SCHOOL_ADMIN_PASSWORD"):
        _run()
    assert not Organization.objects.exists()


def test_on_a_terminal_it_asks_twice(db: Any, terminal: list[str]) -> None:
    # given a terminal where the operator types the same password twice
    terminal.extend([PASSWORD, PASSWORD])
    # when the command runs
    output = _run()
    # then the admin is created with it
    assert "Created school admin head@hilltop.example." in output
    assert StaffMember.objects.get().user.check_password(PASSWORD)


def test_on_a_terminal_two_different_passwords_create_nothing(db: Any, terminal: list[str]) -> None:
    # given a terminal where the two answers differ
    terminal.extend([PASSWORD, PASSWORD + "x"])
    # when the command runs / then it refuses and nothing is created
    with pytest.raises(CommandError, match="The two passwords differ"):
        _run()
    assert not Organization.objects.exists()


def test_the_password_is_never_an_argument() -> None:
    # given the command's parser
    command = load_command_class(get_commands()["create_school"], "create_school")
    parser = command.create_parser("manage.py", "create_school")
    # then no option takes a password (arguments land in shell history, ps and logs)
    options = [s for action in parser._actions for s in action.option_strings]
    assert "--admin-email" in options
    assert [option for option in options if "pass" in option] == []
