"""The "Wellbeing" link in the header of the pages for families (the family portal and the
e-mailed consent links) leads to the family portal, not to the staff pages (whose home sends a
guardian to the staff sign-in); staff pages keep their own home."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from consent.online_consent import send_consent_requests
from tests.conftest import login
from tests.consent.conftest import ask_for_link, portal_client, portal_token_in
from wellbeing.actions import AuditContext
from wellbeing.models import Guardian, Participant, StaffMember

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]

PORTAL_HOME = "/portal/home/"


def brand_href(response: Any) -> str:
    match = re.search(r'<a class="brand" href="([^"]*)">Wellbeing</a>', response.content.decode())
    assert match, response.content.decode()[:500]
    return match.group(1)


def test_every_portal_page_leads_home_to_the_portal(
    student: Participant, guardian: Guardian
) -> None:
    # given the pages a guardian sees, from asking for a link to signing out
    anonymous = Client()
    pages = {"sign in": anonymous.get("/portal/"), "link sent": ask_for_link(anonymous, "x@y.org")}
    ask_for_link(anonymous, "parent@example.org")
    pages["link"] = anonymous.get(f"/portal/link/{portal_token_in(mail.outbox[-1])}/")
    pages["unusable link"] = anonymous.get("/portal/link/made-up/")
    portal = portal_client("parent@example.org")
    pages["home"] = portal.get(PORTAL_HOME)
    pages["student"] = portal.get(f"/portal/students/{student.pk}/")
    pages["signed out"] = portal.post("/portal/sign-out/")
    # then each page's "Wellbeing" leads to the portal's home
    assert {name: brand_href(page) for name, page in pages.items()} == dict.fromkeys(
        pages, PORTAL_HOME
    )
    # and signed out, that link brings the guardian to the portal's sign-in, not the staff's
    assert Client().get(PORTAL_HOME)["Location"] == "/portal/"


def test_consent_link_pages_lead_to_the_portal_and_staff_pages_to_the_staff_home(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a consent request e-mailed to the guardian
    send_consent_requests(AuditContext.system(admin.organization), [student], sent_by=admin)
    token = re.search(r"/consent/answer/([^/\s]+)/", str(mail.outbox[-1].body))
    assert token
    # when the guardian opens it, and a made-up link
    answer = Client().get(f"/consent/answer/{token.group(1)}/")
    unusable = Client().get("/consent/answer/made-up/")
    # then both lead to the family portal
    assert (answer.status_code, brand_href(answer)) == (200, PORTAL_HOME)
    assert brand_href(unusable) == PORTAL_HOME
    # and a staff page still leads to the staff home
    assert brand_href(login(admin).get("/consent/participants/")) == "/"
