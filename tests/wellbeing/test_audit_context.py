"""One AuditContext.from_request for pages, the API and the not-yet-signed-in set-password page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.test import RequestFactory
from rest_framework.request import Request

from alerts.models import Rule
from tests.alerts.conftest import rule_post
from tests.otp_codes import login_operator
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Organization, StaffMember


def _page_request(user: User | AnonymousUser) -> HttpRequest:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox")
    request.user = user
    return request


def test_page_and_api_requests_give_the_same_context(admin: StaffMember) -> None:
    # given the same signed-in admin behind a page request and an API request
    page = _page_request(admin.user)
    api = Request(_page_request(admin.user))
    api.user = admin.user
    # when each is turned into an audit context
    from_page, from_api = AuditContext.from_request(page), AuditContext.from_request(api)
    # then both name the admin, their school and where they acted from
    assert from_page == from_api
    assert from_page.organization == admin.organization and from_page.actor == admin.user
    assert from_page.actor_label == f"{admin.user.username} (admin)"
    assert (from_page.ip_address, from_page.user_agent) == ("203.0.113.7", "Firefox")


def test_an_explicit_member_is_the_actor_before_sign_in(counselor: StaffMember) -> None:
    # given a request that is not signed in yet (the set-password page)
    request = _page_request(AnonymousUser())
    # when the context is built for the member who just chose a password
    ctx = AuditContext.from_request(request, counselor)
    # then the member, not the anonymous request user, is the actor
    assert ctx.actor == counselor.user
    assert ctx.actor_label == f"{counselor.user.username} (counselor)"


def test_a_user_without_staff_role_gets_no_context(db: object) -> None:
    # given a signed-in user who is not staff of any school
    user = User.objects.create_user("visitor", "visitor@example.org", "pw-correct-horse")
    # when a context is asked for / then it is refused (403), never one without a school
    with pytest.raises(PermissionDenied):
        AuditContext.from_request(_page_request(user))


def test_rule_edits_in_django_admin_are_audited_as_the_operator(school: Organization) -> None:
    # given an operator in the Django admin
    operator = User.objects.create_superuser("root", "root@example.org", "pw-correct-horse")
    client = login_operator(operator, remote_addr="198.51.100.4")
    rule = Rule.objects.current().get(organization=school, slug="engagement-drop")
    # when they save an edit of a rule
    client.post(f"/admin/alerts/rule/{rule.pk}/change/", rule_post(rule, persistence_m=4))
    # then the event names them as operator, with their address, like every other admin page
    event = AuditEvent.objects.get(action="rule.update")
    assert event.actor_label == "root (operator)" and event.actor == operator
    assert event.ip_address == "198.51.100.4"
