"""manage.py operator_two_factor USERNAME: set up the operator's authenticator for /admin/.

The Django admin accepts only sign-ins with a second factor (wellbeing.admin_site). This prints
the key, its otpauth:// URI and a QR code of it on this terminal only (never to a log), asks for
the code the app then shows (or takes --code, for a second run), and prints ten backup codes
once. With an authenticator already set up it changes nothing unless --backup-codes asks for
new codes.
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wellbeing.actions.two_factor import (
    confirm_operator_totp,
    generate_operator_backup_codes,
    start_totp_setup,
)
from wellbeing.two_factor import confirmed_totp, otpauth_qr_text, secret_base32


class Command(BaseCommand):
    help = "Set up TOTP two-factor sign-in for an operator (Django admin) account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--code", default="", help="The code the authenticator app shows.")
        parser.add_argument(
            "--backup-codes", action="store_true", help="Print new backup codes (old ones end)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None or not user.is_staff:
            raise CommandError(f"No active staff (operator) account {options['username']!r}.")
        if confirmed_totp(user) is None:
            self._set_up(user, options["code"])
        elif not options["backup_codes"]:
            self.stdout.write("Two-factor is already set up for this account; nothing changed.")
            return
        self._print_backup_codes(user)

    def _set_up(self, user: User, code: str) -> None:
        device = start_totp_setup(user)
        self.stdout.write("Add this key to an authenticator app (TOTP, 6 digits, 30 seconds):")
        self.stdout.write(f"  key: {secret_base32(device)}")
        self.stdout.write(f"  or open: {device.config_url}")
        self.stdout.write("  or scan this QR code of that URI:")
        self.stdout.write(otpauth_qr_text(device.config_url), ending="")
        if not code and sys.stdin.isatty():
            code = input("Code the app shows now: ")
        if not code:
            raise CommandError("Run again with --code CODE (the key stays the same until then).")
        if not confirm_operator_totp(device, code):
            raise CommandError("That code is not valid; check the device's clock and retry.")
        self.stdout.write(self.style.SUCCESS("Two-factor is on: /admin/ now asks for a code."))

    def _print_backup_codes(self, user: User) -> None:
        codes = generate_operator_backup_codes(user)
        self.stdout.write("Backup codes (each works once; shown only now, keep them safe):")
        for backup in codes:
            self.stdout.write(f"  {backup}")
