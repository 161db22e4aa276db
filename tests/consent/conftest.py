"""Helpers of the family portal tests (tests/consent/test_portal_*.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from consent.portal import rate_keys


@pytest.fixture
def lenient_portal_rates(settings: Any) -> Iterator[None]:
    """Rate limits far above what a test asks (the counters live in the real cache, across
    tests); the rate-limit test sets its own and starts its counters at zero."""
    settings.PORTAL_LINK_RATE_PER_EMAIL = settings.PORTAL_LINK_RATE_PER_IP = 100_000
    settings.CONSENT_LINK_RATE_LIMIT = 100_000
    yield


def forget_portal_rates(email: str, ip: str) -> None:
    cache.delete_many([*rate_keys(email, ip), f"portal-open-ip:{ip}"])


def portal_token_in(message: Any) -> str:
    match = re.search(r"/portal/link/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


def ask_for_link(client: Client, email: str) -> Any:
    """Ask for a sign-in link at /portal/ (the e-mail, if any, lands in mail.outbox)."""
    return client.post("/portal/", {"email": email})


def portal_client(email: str) -> Client:
    """A browser signed in to the portal through the real e-mailed link of ``email``'s only
    school."""
    client = Client()
    sent = len(mail.outbox)
    ask_for_link(client, email)
    assert len(mail.outbox) == sent + 1, "expected one sign-in link"
    response = client.post(f"/portal/link/{portal_token_in(mail.outbox[-1])}/")
    assert response.status_code == 302 and response["Location"] == "/portal/home/"
    return client
