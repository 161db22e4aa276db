from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from consent.demo import DEMO_PASSWORDS, seed_demo_school


class Command(BaseCommand):
    help = "Create the demo school (staff, classroom, consented participants, enrolled faces)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--faces", type=Path, help="testdata/faces folder (default ../shared)")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = seed_demo_school(options.get("faces"))
        if not summary.created:
            self.stdout.write("Demo school already exists; nothing changed.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo school created: {len(summary.participants)} "
                f"participants, {len(summary.enrolled)} enrolled."
            )
        )
        for warning in summary.warnings:
            self.stdout.write(self.style.WARNING(warning))
        for role, password in DEMO_PASSWORDS.items():
            self.stdout.write(f"  sign in as {role} / {password}")
        self.stdout.write(f"  capture device token: {summary.device_token}")
