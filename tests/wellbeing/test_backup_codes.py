"""One-time backup codes: shown once, stored hashed, each usable once in place of an
authenticator code; new codes cancel the old ones; every step audited."""

from __future__ import annotations

import re
import time
from typing import Any

from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import login
from tests.otp_codes import totp_now
from wellbeing.models import AuditEvent, BackupCode, StaffMember

PASSWORD = "pw-correct-horse"  # tests/factories.make_staff


def _set_up(client: Client, staff: StaffMember) -> tuple[TOTPDevice, list[str]]:
    """Turn on two-factor through the setup page; the codes as the page shows them."""
    client.get(reverse("two_factor"))
    device = TOTPDevice.objects.get(user=staff.user, confirmed=False)
    page = client.post(reverse("two_factor"), {"token": totp_now(device)}).content.decode()
    return device, re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page)


def _sign_in(username: str, token: str) -> Any:
    data = {"username": username, "password": PASSWORD, "otp_token": token}
    return Client().post(reverse("login"), data, REMOTE_ADDR="10.1.2.3")


def test_a_backup_code_signs_in_once_and_is_audited(counselor: StaffMember) -> None:
    # given a counselor who turned on two-factor and was shown ten backup codes
    _, codes = _set_up(login(counselor), counselor)
    assert len(codes) == 10 and len(set(codes)) == 10
    # when they sign in with a password and one backup code (typed in capitals, no dashes)
    first = _sign_in(counselor.user.username, codes[3].replace("-", "").upper())
    # then they are in, and the use is audited with the number left
    assert first.status_code == 302, first.content
    event = AuditEvent.objects.get(action="account.backup_code_used")
    assert event.actor == counselor.user and event.detail == {"left": 9}
    # when the same code is tried again, it no longer works
    again = _sign_in(counselor.user.username, codes[3])
    assert again.status_code == 200 and "_auth_user_id" not in again.client.session
    assert AuditEvent.objects.filter(action="account.backup_code_used").count() == 1


def test_codes_are_stored_only_as_hashes(counselor: StaffMember) -> None:
    _, codes = _set_up(login(counselor), counselor)
    stored = set(BackupCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(
        code in value or code.replace("-", "") in value for code in codes for value in stored
    )


def test_new_codes_cancel_the_old_ones_and_are_audited(counselor: StaffMember) -> None:
    # given a counselor with backup codes, in a verified session
    client = login(counselor)
    _, old = _set_up(client, counselor)
    # when they make new codes
    page = client.post(reverse("two_factor_backup_codes")).content.decode()
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page)
    # then the old codes fail, a new one works, and both generations are audited
    assert len(new) == 10 and not set(new) & set(old)
    assert _sign_in(counselor.user.username, old[0]).status_code == 200
    time.sleep(1.1)  # a failed code throttles the device for 2^(failures-1) s
    assert _sign_in(counselor.user.username, new[0]).status_code == 302
    generated = AuditEvent.objects.filter(action="account.backup_codes_generated").order_by("pk")
    assert [e.detail for e in generated] == [
        {"count": 10, "replaced": 0},
        {"count": 10, "replaced": 10},
    ]
    # and nothing of a code reaches the audit trail
    assert not any(code in str(e.detail) for e in AuditEvent.objects.all() for code in old + new)


def test_backup_codes_need_an_authenticator_first(counselor: StaffMember) -> None:
    response = login(counselor).post(reverse("two_factor_backup_codes"), follow=True)
    assert "Set up an authenticator app before making backup codes." in response.content.decode()
    assert not BackupCode.objects.exists()


def test_a_backup_code_verifies_a_session_that_had_none(counselor: StaffMember) -> None:
    # given a counselor with codes, and a new session that did not use a second factor
    _, codes = _set_up(login(counselor), counselor)
    client = login(counselor)
    assert client.get("/")["Location"].startswith(reverse("two_factor"))
    # when they verify with a backup code, then the site opens and the code is used up
    client.post(reverse("two_factor"), {"token": codes[0], "next": "/"})
    assert client.get("/").status_code == 200
    assert BackupCode.objects.count() == 9
