from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from capture.demo import shared_faces_dir, sign_in_lines
from capture.demo_stream import stream_classroom, stream_demo, wait_for_server
from capture.models import Observation
from wellbeing_capture.client import CaptureClientError


class Command(BaseCommand):
    help = (
        "Stream the shared demo photos to a running demo server (make demo): once it answers, "
        "print the sign-ins, then keep one live session of the demo classroom running until "
        "Ctrl-C (or --minutes). --once streams the scenes and the video once instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", default="http://127.0.0.1:8000")
        parser.add_argument("--wait", type=float, default=90.0, help="seconds to wait for it")
        parser.add_argument("--once", action="store_true", help="stream each source once")
        parser.add_argument("--minutes", type=float, help="stop the live session after this")
        parser.add_argument("--fps", type=float, default=0.5, help="live frames per second")

    def handle(self, *args: Any, **options: Any) -> None:
        server = options["server"].rstrip("/")
        if not wait_for_server(server, options["wait"]):
            raise CommandError(f"No server answered at {server}/healthz.")
        before = Observation.objects.count()
        if options["once"]:
            code = stream_demo(server)
            if code:
                raise CommandError(f"The capture client stopped with exit code {code}.")
        else:
            self.stream_live(server, options["fps"], options["minutes"])
        stored = Observation.objects.count() - before
        self.stdout.write(f"demo_stream: done; {stored} observations stored.")

    def stream_live(self, server: str, fps: float, minutes: float | None) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nThe demo is up at {server}/"))
        self.stdout.write("\n".join(sign_in_lines(server)))
        self.stdout.write(
            "A live session of Year 9 Drama is running (its link is on the home page); "
            "Ctrl-C stops the demo.\n"
        )
        faces = shared_faces_dir()
        try:
            stats = stream_classroom(server, faces, fps, minutes * 60 if minutes else None)
        except CaptureClientError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            return
        if not stats.sent:
            self.stdout.write(f"demo_stream: no live stream ({faces} is absent).")
