from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand

from privacy.retention import purge_expired_data


class Command(BaseCommand):
    help = "Purge data past each school's retention periods now (the nightly task does the same)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        removed = purge_expired_data(progress=lambda label, n: self.stdout.write(f"{label}: {n}"))
        seconds = time.monotonic() - started
        self.stdout.write(json.dumps({"removed": removed, "seconds": round(seconds, 3)}))
