"""Real TOTP codes for tests (django-otp's own computation), and an operator signed in to the
Django admin with a verified second factor."""

from __future__ import annotations

import base64

from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_now(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or ``steps_ahead`` 30-second steps later).

    A device refuses a code of a step it already accepted, so a second sign-in within the same
    30 seconds takes the next step's code (within the device's tolerance of one step).
    """
    device.refresh_from_db()
    drift = device.drift + steps_ahead
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def totp_from_secret(secret_base32: str) -> str:
    """The current code for a key shown as base32 (as the setup page and command show it)."""
    return f"{totp(base64.b32decode(secret_base32)):06d}"


def login_operator(user: User, remote_addr: str = "127.0.0.1") -> Client:
    """A client in the Django admin as ``user``, whose session used an authenticator (the admin
    refuses a session without a second factor; tests of the sign-in itself post real codes)."""
    device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    client = Client(REMOTE_ADDR=remote_addr)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
