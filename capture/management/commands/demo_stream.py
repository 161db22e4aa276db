from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from capture.demo_stream import stream_demo, wait_for_server
from capture.models import Observation


class Command(BaseCommand):
    help = "Stream the shared demo photos and video to a running demo server (make demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", default="http://127.0.0.1:8000")
        parser.add_argument("--wait", type=float, default=90.0, help="seconds to wait for it")

    def handle(self, *args: Any, **options: Any) -> None:
        server = options["server"].rstrip("/")
        if not wait_for_server(server, options["wait"]):
            raise CommandError(f"No server answered at {server}/healthz.")
        before = Observation.objects.count()
        code = stream_demo(server)
        if code:
            raise CommandError(f"The capture client stopped with exit code {code}.")
        stored = Observation.objects.count() - before
        self.stdout.write(
            self.style.SUCCESS(
                f"demo_stream: done; {stored} observations stored for consented participants. "
                "Sign in as counselor to see them."
            )
        )
