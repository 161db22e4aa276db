"""The live class view's WebSocket is behind the same two-factor gate as the pages (issue 15):
a member whose school requires two-factor of their role and who is past their grace period, or
whose session did not use their authenticator, is refused on the WebSocket too, with a close
code that says which (wellbeing.websocket_two_factor). Connections go through the site's real
ASGI application (wellbeing.asgi), with the session cookie a browser tab would send."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.capture.conftest import start_session
from tests.conftest import login
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.models import Organization, Role, StaffMember
from wellbeing.oidc_sign_in import SESSION_KEY as IDP_SESSION_KEY

pytestmark = pytest.mark.django_db(transaction=True)

SET_UP_FIRST = 4428  # required, past the grace period, no authenticator yet
VERIFY_FIRST = 4401  # has an authenticator, this session did not use it
NOT_ALLOWED = 4403  # the consumer's own refusal (not this staff member's session)


def require_counselors(school: Organization, days_ago: int) -> None:
    """The school's admin requires two-factor of counselors, ``days_ago`` days ago."""
    update_two_factor_policy(AuditContext.system(school), roles=[Role.COUNSELOR])
    school.refresh_from_db()
    started = (timezone.now() - dt.timedelta(days=days_ago)).isoformat()
    school.two_factor_required_since = {Role.COUNSELOR: started}
    school.save(update_fields=["two_factor_required_since"])


def session_cookie(staff: StaffMember, **session_values: Any) -> bytes:
    """The Cookie header of a browser signed in as ``staff`` (password only), with
    ``session_values`` added to the session (a verified second factor, a provider's sign-in)."""
    client = login(staff)
    session = client.session
    session.update(session_values)
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


def close_code(cookie: bytes, session_id: int) -> int | None:
    """Open the live view's WebSocket as a browser tab would; None when it stays open, else the
    code it was closed with (whether before or right after the handshake)."""
    from wellbeing.asgi import application

    async def scenario() -> int | None:
        communicator = WebsocketCommunicator(
            application,
            f"/ws/sessions/{session_id}/live/",
            headers=[(b"cookie", cookie), (b"origin", b"http://testserver")],
        )
        connected, code = await communicator.connect()
        if not connected:
            return int(code)
        if await communicator.receive_nothing(timeout=0.5):
            await communicator.disconnect()
            return None
        message = await communicator.receive_output()
        assert message["type"] == "websocket.close", message
        return int(message["code"])

    return async_to_sync(scenario)()


def test_a_counselor_who_must_set_up_two_factor_is_refused(
    school: Organization, counselor: StaffMember, camera: Any
) -> None:
    # given a running session, and a school that requires two-factor of counselors since before
    # this counselor joined (so no grace period), who has no authenticator
    session_id = int(start_session(camera[1]).json()["session_id"])
    require_counselors(school, days_ago=30)
    # when the counselor's browser opens the live view's WebSocket with a password-only session
    # then it is closed with the "set up two-factor" code, as the pages send them to set it up
    assert close_code(session_cookie(counselor), session_id) == SET_UP_FIRST


def test_a_session_that_did_not_use_the_authenticator_is_refused_until_verified(
    school: Organization, counselor: StaffMember, camera: Any
) -> None:
    # given a counselor with an authenticator, required by the school
    session_id = int(start_session(camera[1]).json()["session_id"])
    require_counselors(school, days_ago=30)
    device = TOTPDevice.objects.create(user=counselor.user, name="App", confirmed=True)
    # when a session that never gave a code opens the WebSocket, then it is closed with the
    # "verify this session" code
    assert close_code(session_cookie(counselor), session_id) == VERIFY_FIRST
    # and a session verified with the authenticator stays open
    verified = session_cookie(counselor, **{DEVICE_ID_SESSION_KEY: device.persistent_id})
    assert close_code(verified, session_id) is None


def test_an_unconfirmed_or_foreign_device_in_the_session_does_not_verify_it(
    school: Organization, counselor: StaffMember, admin: StaffMember, camera: Any
) -> None:
    # given a counselor who must use two-factor and has an authenticator
    session_id = int(start_session(camera[1]).json()["session_id"])
    require_counselors(school, days_ago=30)
    TOTPDevice.objects.create(user=counselor.user, name="App", confirmed=True)
    unconfirmed = TOTPDevice.objects.create(user=counselor.user, name="New", confirmed=False)
    someone_elses = TOTPDevice.objects.create(user=admin.user, name="Admin's", confirmed=True)
    # when their session names a device not yet confirmed, or another person's, then it is
    # refused as unverified
    for device in (unconfirmed, someone_elses):
        cookie = session_cookie(counselor, **{DEVICE_ID_SESSION_KEY: device.persistent_id})
        assert close_code(cookie, session_id) == VERIFY_FIRST


def test_a_provider_sign_in_with_mfa_counts_and_a_grace_period_is_honoured(
    school: Organization, counselor: StaffMember, camera: Any
) -> None:
    # given a counselor required to use two-factor, without an authenticator
    session_id = int(start_session(camera[1]).json()["session_id"])
    require_counselors(school, days_ago=30)
    # when their session came from the school's identity provider with "mfa" in amr, then the
    # WebSocket stays open; without "mfa" it is refused
    assert (
        close_code(session_cookie(counselor, **{IDP_SESSION_KEY: {"mfa": True}}), session_id)
        is None
    )
    refused = session_cookie(counselor, **{IDP_SESSION_KEY: {"mfa": False}})
    assert close_code(refused, session_id) == SET_UP_FIRST
    # and a counselor whose account predates the requirement, still in the grace period, may
    # watch (the pages let them in too)
    counselor.user.date_joined = timezone.now() - dt.timedelta(days=365)
    counselor.user.save(update_fields=["date_joined"])
    require_counselors(school, days_ago=1)
    assert close_code(session_cookie(counselor), session_id) is None


def test_staff_not_required_to_use_it_watch_and_the_consumer_still_decides(
    teacher: StaffMember, other_admin: StaffMember, camera: Any
) -> None:
    # given a school that requires nothing of teachers
    session_id = int(start_session(camera[1]).json()["session_id"])
    # then the class teacher's WebSocket stays open, and another school's admin (no two-factor
    # required there either) is refused by the consumer itself, as before
    assert close_code(session_cookie(teacher), session_id) is None
    assert close_code(session_cookie(other_admin), session_id) == NOT_ALLOWED
