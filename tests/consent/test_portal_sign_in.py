"""Family portal sign-in: e-mailed single-use, expiring links stored hashed; the same answer for
unknown addresses; rate limits per address and per network address; a portal session that is
no staff sign-in, expires and ends on sign-out; every step audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from consent.models import PortalLink
from consent.online_consent import hash_token
from consent.portal import PORTAL_SESSION_KEY
from tests.consent.conftest import ask_for_link, forget_portal_rates, portal_client, portal_token_in
from tests.factories import make_participant
from wellbeing.models import AuditEvent, Guardian, Organization, Participant

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]


def test_a_known_address_gets_a_hashed_link_and_an_unknown_one_the_same_page(
    guardian: Guardian,
) -> None:
    client = Client()
    # when a guardian on record and an unknown address each ask for a link
    known = ask_for_link(client, "Parent@Example.org ")
    unknown = ask_for_link(client, "stranger@example.org")
    # then both get the same page, and only the guardian gets an e-mail
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    [message] = mail.outbox
    assert message.to == ["parent@example.org"]
    # and only the token's hash is stored, with its expiry
    token = portal_token_in(message)
    [link] = PortalLink.objects.all()
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert dt.timedelta(minutes=29) < link.expires_at - timezone.now() <= dt.timedelta(minutes=30)
    # and the send is audited in the guardian's school, the unknown address nowhere
    event = AuditEvent.objects.get(action="portal.link_send")
    assert event.organization_id == guardian.participant.organization_id
    assert AuditEvent.objects.filter(action__startswith="portal.").count() == 1


def test_the_link_signs_in_once_and_opening_it_alone_uses_nothing(guardian: Guardian) -> None:
    client = Client()
    ask_for_link(client, "parent@example.org")
    url = f"/portal/link/{portal_token_in(mail.outbox[-1])}/"
    # when the link is opened (an e-mail scanner would do just this), it only shows a button
    assert client.get(url).status_code == 200
    assert PortalLink.objects.get().used_at is None
    # when the button is pressed, the holder is signed in to the portal, not as staff
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/portal/home/"
    assert PORTAL_SESSION_KEY in client.session and "_auth_user_id" not in client.session
    assert client.get("/consent/participants/")["Location"].startswith("/accounts/login/")
    assert "Alex Student" in client.get("/portal/home/").content.decode()
    # and a second use of the link is refused, from any browser
    again = Client().post(url)
    assert again.status_code == 410 and b"already used" in again.content
    assert AuditEvent.objects.filter(action="portal.sign_in").count() == 1


def test_an_expired_or_unknown_link_signs_nobody_in(guardian: Guardian) -> None:
    client = Client()
    ask_for_link(client, "parent@example.org")
    token = portal_token_in(mail.outbox[-1])
    # given the link's lifetime has passed
    PortalLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    # then it is refused, and so is a made-up one
    expired = client.post(f"/portal/link/{token}/")
    assert expired.status_code == 410 and b"expired" in expired.content
    assert client.post("/portal/link/made-up-token/").status_code == 410
    assert PORTAL_SESSION_KEY not in client.session
    assert client.get("/portal/home/")["Location"] == "/portal/"


def test_the_portal_session_expires_and_ends_on_sign_out(guardian: Guardian) -> None:
    client = portal_client("parent@example.org")
    assert client.get("/portal/home/").status_code == 200
    # when the session's time is up, the portal asks to sign in again
    session = client.session
    session[PORTAL_SESSION_KEY] = {
        **session[PORTAL_SESSION_KEY],
        "until": (timezone.now() - dt.timedelta(seconds=1)).isoformat(),
    }
    session.save()
    assert client.get("/portal/home/")["Location"] == "/portal/"
    # given a fresh session, signing out ends it (audited)
    client = portal_client("parent@example.org")
    old_key = client.session.session_key
    assert client.post("/portal/sign-out/").status_code == 200
    assert client.get("/portal/home/")["Location"] == "/portal/"
    assert client.session.session_key != old_key
    assert AuditEvent.objects.filter(action="portal.sign_out").count() == 1


def test_asking_for_links_is_rate_limited_per_address_and_per_network_address(
    settings: Any, guardian: Guardian
) -> None:
    settings.PORTAL_LINK_RATE_PER_EMAIL, settings.PORTAL_LINK_RATE_PER_IP = 2, 3
    asks = [("parent@example.org", "10.0.0.1"), ("stranger@example.org", "10.0.0.1"),
            ("parent@example.org", "10.0.0.2"), ("other@example.org", "10.0.0.3")]  # fmt: skip
    for email, ip in asks:
        forget_portal_rates(email, ip)
    one, two = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    # when one address asks twice, a third ask is refused, even from another network address
    assert [ask_for_link(one, "parent@example.org").status_code for _ in range(2)] == [200, 200]
    assert ask_for_link(two, "parent@example.org").status_code == 429
    assert len(mail.outbox) == 2
    # when one network address asks for a fourth link, for any address, it is refused too
    codes = [ask_for_link(one, "stranger@example.org").status_code for _ in range(2)]
    assert codes == [200, 429]
    # and an unknown address is limited the same way as a known one (no enumeration)
    three = Client(REMOTE_ADDR="10.0.0.3")
    codes = [ask_for_link(three, "other@example.org").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_student_old_enough_to_decide_may_sign_in_and_a_younger_one_gets_nothing(
    school: Organization, student: Participant
) -> None:
    # given a UK school (own grant from 13): a 15-year-old and an 11-year-old with addresses
    today = school.local_today()
    student.email, student.date_of_birth = "alex@students.example", today - dt.timedelta(days=5500)
    student.save()
    young = make_participant(school, "Yan")
    young.email, young.date_of_birth = "yan@students.example", today - dt.timedelta(days=4030)
    young.save()
    client = Client()
    # when both ask for a link, both see the same page, and only the older gets an e-mail
    assert (
        ask_for_link(client, "yan@students.example").content
        == ask_for_link(client, "alex@students.example").content
    )
    assert [m.to for m in mail.outbox] == [["alex@students.example"]]
    # and the older one, signed in, sees only themself
    portal = portal_client("alex@students.example")
    assert "(yourself)" in portal.get("/portal/home/").content.decode()
    assert portal.get(f"/portal/students/{young.pk}/").status_code == 404
