"""``manage.py create_school``: the first school and its admin (wellbeing.actions.schools)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils.text import slugify

from wellbeing.actions import (
    PasswordRequired,
    SchoolSetup,
    SchoolSetupRefused,
    SchoolWanted,
    create_school_with_admin,
)
from wellbeing.models import Jurisdiction

# Read from the environment, never from the command line: arguments end up in shell history,
# `ps` and container logs.
PASSWORD_ENV = "SCHOOL_ADMIN_PASSWORD"  # noqa: S105 (the variable's name, not a password)


class Command(BaseCommand):
    help = (
        "Create a school and its first admin (idempotent: a second run changes nothing). The "
        f"admin's password comes from ${PASSWORD_ENV} or, on a terminal, from a prompt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The school's name.")
        parser.add_argument("--slug", help="Short identifier (default: from the name).")
        parser.add_argument("--jurisdiction", required=True, choices=Jurisdiction.values)
        parser.add_argument("--timezone", required=True, help="IANA name, e.g. Europe/London.")
        parser.add_argument("--admin-email", required=True, help="Also the admin's sign-in name.")
        parser.add_argument("--admin-name", required=True, help="The admin's name.")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = SchoolWanted(
            name=options["name"],
            slug=options["slug"] or slugify(options["name"]),
            jurisdiction=options["jurisdiction"],
            timezone=options["timezone"],
        )
        try:
            setup = self._set_up(wanted, options["admin_name"], options["admin_email"])
        except SchoolSetupRefused as exc:
            raise CommandError(str(exc)) from exc
        self._report(setup)

    def _set_up(self, wanted: SchoolWanted, name: str, email: str) -> SchoolSetup:
        try:
            return create_school_with_admin(wanted, name, email, os.environ.get(PASSWORD_ENV))
        except PasswordRequired as exc:
            # Ask only now, outside the action's transaction, and only when an account is made.
            return create_school_with_admin(wanted, name, email, self._prompt(str(exc)))

    def _prompt(self, reason: str) -> str:
        if not sys.stdin.isatty():
            raise CommandError(f"{reason} Set {PASSWORD_ENV}, or run this on a terminal.")
        password = getpass.getpass("Admin password: ")
        if password != getpass.getpass("Admin password (again): "):
            raise CommandError("The two passwords differ; nothing changed.")
        return password

    def _report(self, setup: SchoolSetup) -> None:
        school, user = setup.school, setup.admin.user
        where = (
            f"slug {school.slug}, jurisdiction {school.jurisdiction}, time zone {school.timezone}"
        )
        if setup.school_created:
            self.stdout.write(self.style.SUCCESS(f"Created school {school.name!r} ({where})."))
        else:
            self.stdout.write(f"School {school.name!r} ({where}) exists: left unchanged.")
        for field in setup.differences:
            self.stdout.write(
                self.style.WARNING(f"Its {field} differs from the one given; change it in /admin/.")
            )
        if setup.admin_created:
            self.stdout.write(self.style.SUCCESS(f"Created school admin {user.get_username()}."))
        else:
            self.stdout.write(
                f"{user.get_username()} is this school's admin already: password left unchanged."
            )
        self.stdout.write(f"Sign in at {settings.SITE_URL}{reverse('login')}")
