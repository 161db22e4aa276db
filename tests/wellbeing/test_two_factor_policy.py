"""A school's two-factor policy: which roles must use it, the grace period for existing staff,
and its enforcement on pages and the session API (not on the device ingest API)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from capture.devices import create_device
from tests.conftest import login
from tests.factories import make_classroom, make_organization, make_staff
from tests.otp_codes import totp_now
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.models import AuditEvent, Organization, Role, StaffMember
from wellbeing.oidc_sign_in import SESSION_KEY as IDP_SESSION_KEY
from wellbeing.two_factor import two_factor_status

PASSWORD = "pw-correct-horse"  # tests/factories.make_staff
HOME = "/"


def _sign_in(client: Client, staff: StaffMember, token: str = "") -> Any:
    data = {"username": staff.user.username, "password": PASSWORD, "otp_token": token}
    return client.post(reverse("login"), data)


def _require(school: Organization, *roles: str, days_ago: int = 0) -> None:
    """Turn the requirement on for ``roles`` as the school's admin would, ``days_ago`` days ago
    (the grace period counts from then)."""
    update_two_factor_policy(AuditContext.system(school), roles=list(roles))
    school.refresh_from_db()
    started = timezone.now() - dt.timedelta(days=days_ago)
    school.two_factor_required_since = {role: started.isoformat() for role in roles}
    school.save(update_fields=["two_factor_required_since"])


def _joined_days_ago(staff: StaffMember, days: int) -> None:
    User.objects.filter(pk=staff.user_id).update(
        date_joined=timezone.now() - dt.timedelta(days=days)
    )
    staff.user.refresh_from_db()


def _setup_redirect(path: str) -> str:
    return f"{reverse('two_factor')}?next={path}"


def test_a_new_school_requires_admins_and_counselors_from_their_first_sign_in(db: Any) -> None:
    # given a school created without saying anything about two-factor
    school = Organization.objects.create(name="New School", slug="new-school", jurisdiction="uk")
    admin, counselor, teacher = (make_staff(school, r) for r in Role.values)
    # then admins and counselors must use it, teachers need not
    assert school.two_factor_roles == ["admin", "counselor"]
    assert [two_factor_status(s).required for s in (admin, counselor, teacher)] == [
        True,
        True,
        False,
    ]
    # and staff who joined after the requirement began have no grace: the site is closed
    for member in (admin, counselor):
        response = login(member).get(HOME)
        assert response.status_code == 302 and response["Location"] == _setup_redirect(HOME)
    assert login(teacher).get(HOME).status_code == 200


@pytest.mark.parametrize("required_role", [Role.ADMIN, Role.COUNSELOR, Role.TEACHER])
def test_only_the_required_role_is_held_to_it(required_role: str, db: Any) -> None:
    # given a school requiring two-factor of one role only (for long enough that grace is over)
    school = make_organization()
    staff = {role: make_staff(school, role) for role in Role.values}
    for member in staff.values():
        _joined_days_ago(member, 60)
    _require(school, required_role, days_ago=30)
    # then that role's member is sent to set it up, and the other roles use the site
    for role, member in staff.items():
        response = login(member).get(
            reverse("two_factor_policy" if role == "admin" else "dashboard:home")
        )
        blocked = response.status_code == 302 and response["Location"].startswith(
            reverse("two_factor")
        )
        assert blocked == (role == required_role), role


def test_existing_staff_are_prompted_during_the_grace_period_and_closed_out_after(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor whose account predates the requirement, turned on today (14-day grace)
    _joined_days_ago(counselor, 100)
    _require(school, Role.COUNSELOR)
    # when they sign in with a password
    client = Client()
    response = _sign_in(client, counselor)
    # then the first page is the setup page, which says until when and offers "Not now"
    assert response.status_code == 302
    prompt = client.get(response["Location"], follow=True)
    assert prompt.redirect_chain[-1][0].startswith(reverse("two_factor"))
    page = prompt.content.decode()
    deadline = timezone.now() + dt.timedelta(days=14)
    assert "Not now" in page and f"{deadline:%-d %B %Y}" in page
    # and the site stays open for the rest of the session (asked once per sign-in)
    assert client.get(HOME).status_code == 200
    assert client.get("/api/participants/").status_code == 200
    # when the grace period has passed (the requirement began 15 days ago)
    school.two_factor_required_since = {
        "counselor": (timezone.now() - dt.timedelta(days=15)).isoformat()
    }
    school.save(update_fields=["two_factor_required_since"])
    # then pages send them to the setup page, the session API refuses, and the setup page and
    # signing out still work
    assert client.get(HOME)["Location"] == _setup_redirect(HOME)
    api = client.get("/api/participants/")
    assert api.status_code == 403 and api.json()["error"] == "two_factor_required"
    assert client.get(reverse("two_factor")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302


def test_a_grace_period_set_by_the_school_counts(
    school: Organization, counselor: StaffMember
) -> None:
    # given a 3-day grace period and a requirement that began 2 days ago
    _joined_days_ago(counselor, 100)
    _require(school, Role.COUNSELOR, days_ago=2)
    update_two_factor_policy(AuditContext.system(school), grace_days=3)
    # then the counselor is still let in; with a 1-day grace period, not any more
    client = login(counselor)
    assert client.get("/api/participants/").status_code == 200
    update_two_factor_policy(AuditContext.system(school), grace_days=1)
    assert client.get("/api/participants/").status_code == 403


def test_setting_it_up_opens_the_site_and_is_audited(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor who must set up two-factor now (they joined after it began)
    _require(school, Role.COUNSELOR, days_ago=30)
    client = login(counselor)
    assert client.get(HOME).status_code == 302
    # when they open the setup page and confirm the code their app computes
    page = client.get(reverse("two_factor")).content.decode()
    device = TOTPDevice.objects.get(user=counselor.user, confirmed=False)
    assert device.config_url.split("secret=")[1].split("&")[0] in page
    shown = client.post(reverse("two_factor"), {"token": totp_now(device), "next": HOME})
    # then they see their backup codes once, and the site is open in this session
    assert shown.status_code == 200 and shown.content.decode().count("<li><code>") == 10
    assert client.get(HOME).status_code == 200
    actions = list(AuditEvent.objects.filter(organization=school).values_list("action", flat=True))
    assert "account.two_factor_enabled" in actions and "account.backup_codes_generated" in actions
    enabled = AuditEvent.objects.get(action="account.two_factor_enabled")
    assert enabled.actor == counselor.user and enabled.target_id == str(counselor.user_id)


def test_a_session_that_did_not_use_the_authenticator_must_verify_first(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor with an authenticator, and a session that never gave a code
    device = TOTPDevice.objects.create(user=counselor.user, name="App", confirmed=True)
    client = login(counselor)
    # then pages send them to verify, and the API refuses
    assert client.get(HOME)["Location"] == _setup_redirect(HOME)
    api = client.get("/api/participants/")
    assert api.status_code == 403 and api.json()["error"] == "two_factor_unverified"
    # when they enter a wrong code, then a current one
    client.post(reverse("two_factor"), {"token": "000000", "next": HOME})
    assert client.get(HOME).status_code == 302
    time.sleep(1.1)  # django-otp throttles a device for 2^(failures-1) s after a wrong code
    response = client.post(reverse("two_factor"), {"token": totp_now(device), "next": HOME})
    # then they go where they were going, and the site is open
    assert response["Location"] == HOME
    assert client.get(HOME).status_code == 200


def test_the_device_ingest_api_is_not_a_staff_sign_in(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor closed out by the policy, and a capture device of the school
    _require(school, Role.COUNSELOR, days_ago=30)
    classroom = make_classroom(school)
    _, token = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    client = login(counselor)
    assert client.get("/api/participants/").status_code == 403
    # when the device starts a session, even from a browser holding that counselor's session
    response = client.post(
        "/api/ingest/sessions",
        data={},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then the ingest API answers as it always does (token authentication, no two-factor)
    assert response.status_code == 201, response.content


def test_a_school_admin_changes_the_policy_on_its_page_and_it_is_audited(
    school: Organization, admin: StaffMember, counselor: StaffMember
) -> None:
    client = login(admin)
    # when the admin requires two-factor of teachers and counselors, with 7 days' grace
    response = client.post(
        reverse("two_factor_policy"), {"roles": ["teacher", "counselor"], "grace_days": 7}
    )
    # then the school's policy says so, each role's requirement starts now, and it is audited
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.two_factor_roles == ["counselor", "teacher"]
    assert school.two_factor_grace_days == 7
    assert set(school.two_factor_required_since) == {"counselor", "teacher"}
    event = AuditEvent.objects.get(action="school.two_factor_policy")
    assert event.organization == school and event.actor == admin.user
    assert event.detail == {
        "before": {"roles": [], "grace_days": 14},
        "after": {"roles": ["counselor", "teacher"], "grace_days": 7},
    }
    # and the page lists the counselor as not set up, required from a week on
    page = client.get(reverse("two_factor_policy")).content.decode()
    assert counselor.user.username in page and "Not set up: required from" in page
    # and the grace period must stay within 0..90 days
    client.post(reverse("two_factor_policy"), {"roles": ["admin"], "grace_days": 91})
    school.refresh_from_db()
    assert school.two_factor_roles == ["counselor", "teacher"]


@pytest.mark.parametrize("persona", ["counselor", "teacher"])
def test_only_school_admins_may_open_the_policy_page(
    persona: str, counselor: StaffMember, teacher: StaffMember
) -> None:
    member = {"counselor": counselor, "teacher": teacher}[persona]
    assert login(member).get(reverse("two_factor_policy")).status_code == 403
    assert login(member).post(reverse("two_factor_policy"), {"roles": []}).status_code == 403


def test_turning_it_off_is_refused_while_required_and_audited_when_not(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor who set up two-factor in this session
    client = login(counselor)
    client.get(reverse("two_factor"))
    device = TOTPDevice.objects.get(user=counselor.user)
    client.post(reverse("two_factor"), {"token": totp_now(device)})
    # when the school requires it of counselors, turning it off is refused
    _require(school, Role.COUNSELOR)
    client.post(reverse("two_factor_disable"), {"token": totp_now(device, 1)})
    assert TOTPDevice.objects.filter(user=counselor.user, confirmed=True).exists()
    # when it no longer does, a current code turns it off, audited
    update_two_factor_policy(AuditContext.system(school), roles=[])
    client.post(reverse("two_factor_disable"), {"token": totp_now(device, 1)})
    assert not TOTPDevice.objects.filter(user=counselor.user).exists()
    assert AuditEvent.objects.filter(action="account.two_factor_disabled").count() == 1


def test_an_admin_resets_a_lost_device_audited(
    school: Organization, admin: StaffMember, counselor: StaffMember, other_admin: StaffMember
) -> None:
    TOTPDevice.objects.create(user=counselor.user, name="App", confirmed=True)
    url = reverse("staff_two_factor_reset", args=[counselor.pk])
    # another school's admin cannot, this school's admin can
    assert login(other_admin).post(url).status_code == 404
    assert login(admin).post(url).status_code == 302
    assert not TOTPDevice.objects.filter(user=counselor.user).exists()
    event = AuditEvent.objects.get(action="account.two_factor_reset")
    assert event.organization == school and event.detail == {"had_authenticator": True}


def test_staff_who_join_a_requiring_school_later_have_no_grace(db: Any) -> None:
    # given a school that has required two-factor of counselors for a year
    school = make_organization()
    _require(school, Role.COUNSELOR, days_ago=365)
    # when a counselor joins today
    newcomer = make_staff(school, Role.COUNSELOR)
    # then they must set it up before using the site
    status = two_factor_status(newcomer)
    assert status.required and status.overdue
    assert login(newcomer).get(HOME).status_code == 302


def test_an_identity_provider_sign_in_that_used_mfa_counts_as_the_second_factor(
    school: Organization, counselor: StaffMember
) -> None:
    # given a counselor who must use two-factor and has no authenticator
    _require(school, Role.COUNSELOR, days_ago=30)
    client = login(counselor)
    assert client.get("/api/participants/").status_code == 403
    # when their session is one the school's provider signed in with amr "mfa"
    # (wellbeing.oidc_sign_in keeps that in the session; docs/sign-in.md)
    session = client.session
    session[IDP_SESSION_KEY] = {"mfa": True}
    session.save()
    # then the site is open; a provider sign-in without "mfa" does not count
    assert client.get("/api/participants/").status_code == 200
    session[IDP_SESSION_KEY] = {"mfa": False}
    session.save()
    assert client.get("/api/participants/").status_code == 403
