"""Backup codes: a django-otp device whose single-use codes are stored only as hashes.

django-otp's own ``otp_static`` keeps its codes in plain text, so a copy of the database would
be a copy of everyone's second factor. Here each code is random (about 60 bits), shown once, and
kept as its SHA-256: a match deletes the row, so a code works once. A salt or a slow hash adds
nothing for random codes of this length, and a plain digest lets one indexed query find a match.
The device's throttle (django-otp's ThrottlingMixin) slows down guessing after failures.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

# No 0/o, 1/l/i: codes are read off paper and typed.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 12


def normalize_backup_code(code: str) -> str:
    """The code as stored: lower case, without the spaces and dashes people type."""
    return "".join(code.split()).replace("-", "").lower()


def hash_backup_code(code: str) -> str:
    return hashlib.sha256(normalize_backup_code(code).encode()).hexdigest()


def new_backup_code() -> str:
    """A random code, grouped for reading: ``abcd-efgh-jkmn``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def looks_like_backup_code(token: str) -> bool:
    """A typed token is a backup code (not a 6-digit authenticator code) by its shape."""
    normalized = normalize_backup_code(token)
    return len(normalized) == CODE_LENGTH and not normalized.isdigit()


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of single-use backup codes (one device per user, confirmed when made)."""

    def get_throttle_factor(self) -> int:
        """1: after n failures in a row, the next try waits 2^(n-1) seconds."""
        return 1

    def verify_token(self, token: str) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        used, _ = self.codes.filter(code_hash=hash_backup_code(token)).delete()
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return bool(used)

    def remaining(self) -> int:
        left: int = self.codes.count()
        return left


class BackupCode(models.Model):
    """One unused backup code, as its SHA-256 (hex). Deleted when used."""

    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"backup code of {self.device.user_id}"
