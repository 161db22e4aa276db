from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.demo_school import DemoSeedReport, seed_demo
from capture.demo import sign_in_lines
from capture.demo_history import DEFAULT_SEED, DEFAULT_WEEKS


class Command(BaseCommand):
    help = (
        "Create the demo school: staff, the photo people (enrolled), synthetic classes with "
        "weeks of history, and the alerts the rules raise on it (docs/demo.md). Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--faces", type=Path, help="testdata/faces folder (default ../shared)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--weeks", type=int, default=DEFAULT_WEEKS, help="8 to 12")
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo school first (history to today)"
        )
        parser.add_argument(
            "--sign-ins",
            action="store_true",
            help="only print the sign-ins (make demo's last words)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sign_ins"]:
            self.print_sign_ins()
            return
        if not 8 <= options["weeks"] <= 12:
            raise CommandError("--weeks must be between 8 and 12.")
        report = seed_demo(
            options.get("faces"),
            seed=options["seed"],
            weeks=options["weeks"],
            reset=options["reset"],
        )
        self.print_report(report)
        self.print_sign_ins()

    def print_report(self, report: DemoSeedReport) -> None:
        school = report.school
        if school.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo school created: {len(school.participants)} photo participants, "
                    f"{len(school.enrolled)} enrolled."
                )
            )
        for warning in school.warnings:
            self.stdout.write(self.style.WARNING(warning))
        if not report.history_created:
            self.stdout.write("Demo school and its history already exist; nothing changed.")
            return
        rows = report.rows
        self.stdout.write(
            self.style.SUCCESS(
                f"Synthetic history: {report.students} students ({report.consented} consented), "
                f"{rows['sessions']} class sessions, {rows['minutes']} minute rows, "
                f"{rows['days']} student-days; the rules raised {report.raised} alerts and "
                f"cleared {report.cleared} ({report.seconds:.1f} s)."
            )
        )

    def print_sign_ins(self) -> None:
        self.stdout.write("\n".join(sign_in_lines()))
