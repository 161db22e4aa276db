from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from consent.key_rotation import reencrypt_all_templates


class Command(BaseCommand):
    help = (
        "Re-encrypt every face template with the first key in FACE_TEMPLATE_KEY. Put the new key "
        "first and keep the old one after it (comma-separated) while this runs, then drop it."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = reencrypt_all_templates()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} template(s)."))
