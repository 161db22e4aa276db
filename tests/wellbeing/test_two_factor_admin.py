"""The Django admin requires a second factor; operators set theirs up with a command; sign-ins
and setup are written to every school's audit trail."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.otp_codes import totp_from_secret, totp_now
from wellbeing.models import AuditEvent, Organization

PASSWORD = "pw-operator-long-9"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def operator(db: Any) -> User:
    return User.objects.create_superuser("operator", "op@example.org", PASSWORD)


def _admin_sign_in(client: Client, token: str = "") -> Any:
    data = {"username": "operator", "password": PASSWORD, "otp_token": token, "next": "/admin/"}
    return client.post(LOGIN, data, REMOTE_ADDR="10.7.7.7")


def test_a_password_alone_does_not_open_the_admin(
    operator: User, school: Organization, other_school: Organization
) -> None:
    # given an operator with a confirmed authenticator (the case the attack run found)
    device = TOTPDevice.objects.create(user=operator, name="App", confirmed=True)
    client = Client()
    # when they sign in with the password only
    response = _admin_sign_in(client)
    # then the sign-in form comes back asking for the code, and the admin stays closed
    assert response.status_code == 200
    assert "Enter the code from your authenticator app" in response.content.decode()
    assert client.get("/admin/wellbeing/participant/").status_code == 302
    # when they add a current code
    response = _admin_sign_in(client, totp_now(device))
    # then the admin opens, and each school's audit trail records the sign-in
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/wellbeing/participant/").status_code == 200
    events = AuditEvent.objects.filter(action="operator.admin_sign_in")
    assert {e.organization for e in events} == {school, other_school}
    assert all(e.actor == operator and e.actor_label == "operator (operator)" for e in events)
    assert events.first().detail == {"second_factor": "authenticator"}  # type: ignore[union-attr]


def test_an_operator_without_an_authenticator_is_told_how_to_set_one_up(operator: User) -> None:
    response = _admin_sign_in(Client(), "123456")
    assert response.status_code == 200
    assert "manage.py operator_two_factor" in response.content.decode()


def test_a_signed_in_session_without_a_second_factor_is_not_an_admin_session(
    operator: User,
) -> None:
    # given an operator signed in elsewhere with a password (no code)
    client = Client()
    client.force_login(operator)
    # then the admin treats them as not signed in to it
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_command_sets_up_the_authenticator_and_backup_codes_audited(
    operator: User, school: Organization, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # when the operator runs the command without a code (not at a terminal)
    first = io.StringIO()
    with pytest.raises(CommandError, match="Run again with --code"):
        call_command("operator_two_factor", "operator", stdout=first)
    secret = re.search(r"key: ([A-Z2-7=]+)", first.getvalue())
    assert secret is not None and "otpauth://totp/" in first.getvalue()
    # and again with the code their app computes from that key
    second = io.StringIO()
    call_command("operator_two_factor", "operator", code=totp_from_secret(secret[1]), stdout=second)
    # then the authenticator is confirmed, ten backup codes are printed once, all audited
    assert TOTPDevice.objects.get(user=operator).confirmed
    codes = re.findall(r"^  ([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})$", second.getvalue(), re.M)
    assert len(codes) == 10
    actions = set(AuditEvent.objects.filter(organization=school).values_list("action", flat=True))
    assert actions == {"operator.two_factor_enabled", "operator.backup_codes_generated"}
    # and the key is on the terminal only, never in a log record
    assert secret[1] not in caplog.text and codes[0] not in caplog.text
    # when they sign in to the admin with a backup code, it works once
    response = _admin_sign_in(Client(), codes[0])
    assert response.status_code == 302
    sign_in = AuditEvent.objects.get(action="operator.admin_sign_in")
    assert sign_in.detail == {"second_factor": "backup code"}
    assert _admin_sign_in(Client(), codes[0]).status_code == 200


def test_the_command_refuses_accounts_that_are_not_operators(counselor: Any) -> None:
    with pytest.raises(CommandError, match="No active staff"):
        call_command("operator_two_factor", counselor.user.username, code="123456")
