"""Sign-in throttling, optional TOTP two-factor, CSP and API rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.throttling import UserRateThrottle

from tests.conftest import login
from wellbeing.models import StaffMember

PASSWORD = "pw-correct-horse"  # tests/factories.make_staff


def _sign_in(client: Client, username: str, password: str, token: str = "") -> Any:
    data = {"username": username, "password": password, "otp_token": token}
    return client.post(reverse("login"), data, REMOTE_ADDR="10.9.8.7")


def test_password_sign_in_works_without_two_factor(counselor: StaffMember) -> None:
    response = _sign_in(Client(), counselor.user.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")


def test_repeated_failures_lock_the_account_from_that_address(counselor: StaffMember) -> None:
    client = Client()
    # given five wrong passwords
    for _ in range(5):
        _sign_in(client, counselor.user.username, "wrong-password")
    # then even the right password is refused with a clear page
    response = _sign_in(client, counselor.user.username, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def _totp_now(device: TOTPDevice, steps_ahead: int = 0) -> str:
    drift = device.drift + steps_ahead
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def test_two_factor_setup_then_sign_in_needs_a_code(admin: StaffMember) -> None:
    client = login(admin)
    # when the admin opens the setup page and confirms a current code
    page = client.get(reverse("two_factor")).content.decode()
    assert "Key:" in page
    device = TOTPDevice.objects.get(user=admin.user)
    client.post(reverse("two_factor"), {"token": _totp_now(device)})
    device.refresh_from_db()
    assert device.confirmed
    # then a password alone no longer signs in, and password + code does
    assert _sign_in(Client(), admin.user.username, PASSWORD).status_code == 200
    device.refresh_from_db()
    # (a code is single-use: take the next step's code, within the device's tolerance)
    response = _sign_in(Client(), admin.user.username, PASSWORD, _totp_now(device, 1))
    assert response.status_code == 302


def test_wrong_setup_code_does_not_enable_two_factor(admin: StaffMember) -> None:
    client = login(admin)
    client.get(reverse("two_factor"))
    client.post(reverse("two_factor"), {"token": "000000"}, follow=True)
    assert not TOTPDevice.objects.get(user=admin.user).confirmed


@pytest.mark.parametrize("url_name", ["login", "dashboard:home"])
def test_pages_carry_a_strict_content_security_policy(url_name: str, admin: StaffMember) -> None:
    response = login(admin).get(reverse(url_name))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    # WebSockets only to this site ('self' covers ws/wss to the same host): a bare ws:/wss:
    # would let an injected script send data to any host
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["connect-src"] == "'self'"


def test_api_requests_are_rate_limited_per_user(counselor: StaffMember, monkeypatch: Any) -> None:
    # given a low per-user rate (DRF checks permissions first, so anonymous callers get 403
    # without reaching the throttle)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    cache.clear()
    client = login(counselor)
    codes = [client.get("/api/participants/").status_code for _ in range(5)]
    # then the fourth request on is answered 429 with Retry-After
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert client.get("/api/participants/").has_header("Retry-After")
