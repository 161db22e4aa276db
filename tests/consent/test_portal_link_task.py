"""The family portal's sign-in e-mail is sent by a worker, not in the web request: the sign-in
page does the same work for every address (count the ask, queue send_portal_link_task on the
real Redis broker), the queued message holds no token, and the task e-mails one link for an
address on record and none for an unknown one. A mail server failure leaves no link behind and
is retried for that school alone."""

from __future__ import annotations

import base64
import json
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client

from consent.models import PortalLink
from consent.online_consent import hash_token
from consent.tasks import send_portal_link_task
from tests.consent.conftest import ask_for_link, forget_portal_rates, portal_token_in
from wellbeing.celery import app
from wellbeing.models import AuditEvent, Guardian

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]

QUEUE = "maintenance"  # settings.CELERY_TASK_ROUTES: consent.tasks.* -> maintenance


@pytest.fixture
def real_broker() -> Iterator[Any]:
    """Tasks go to the tests' Redis broker instead of running in-process."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete(QUEUE)
    app.conf.task_always_eager = False
    try:
        yield client
    finally:
        app.conf.task_always_eager = True
        client.delete(QUEUE)


def queued_tasks(client: Any) -> list[tuple[str, list[Any], bytes]]:
    """(task name, args, raw message) of each message waiting on the queue, oldest first."""
    found = []
    for raw in reversed(client.lrange(QUEUE, 0, -1)):  # LPUSHed: newest first
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args, raw))
    return found


def test_the_page_queues_the_same_task_for_known_and_unknown_addresses(
    guardian: Guardian, real_broker: Any
) -> None:
    client = Client(REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Firefox")
    # when a guardian on record and an unknown address each ask for a link
    known = ask_for_link(client, "Parent@Example.org ")
    unknown = ask_for_link(client, "stranger@example.org")
    # then both get the same page, and nothing was looked up or sent in the request
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert mail.outbox == []
    assert not PortalLink.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="portal.").exists()
    # and each ask left one message of the same task, with the same kind of arguments
    queued = queued_tasks(real_broker)
    assert [(name, args) for name, args, _ in queued] == [
        ("consent.tasks.send_portal_link_task", ["parent@example.org", "10.1.2.3", "Firefox"]),
        ("consent.tasks.send_portal_link_task", ["stranger@example.org", "10.1.2.3", "Firefox"]),
    ]
    # when a worker runs them
    for _, args, _ in queued:
        send_portal_link_task.apply(args=tuple(args))
    # then exactly one e-mail went out, to the guardian, with a link stored only hashed
    [message] = mail.outbox
    assert message.to == ["parent@example.org"]
    token = portal_token_in(message)
    [link] = PortalLink.objects.all()
    assert link.token_hash == hash_token(token)
    assert AuditEvent.objects.get(action="portal.link_send").ip_address == "10.1.2.3"
    # and the token never was in the broker's messages
    assert all(token.encode() not in raw for _, _, raw in queued)


def test_a_rate_limited_ask_queues_nothing(
    settings: Any, guardian: Guardian, real_broker: Any
) -> None:
    settings.PORTAL_LINK_RATE_PER_EMAIL = 1
    forget_portal_rates("parent@example.org", "10.9.9.9")
    client = Client(REMOTE_ADDR="10.9.9.9")
    # when an address asks twice with a limit of one
    codes = [ask_for_link(client, "parent@example.org").status_code for _ in range(2)]
    # then the second is refused and only the first was queued
    assert codes == [200, 429]
    assert len(queued_tasks(real_broker)) == 1


def run_as_worker(args: list[Any]) -> None:
    """Run the task with the request context a worker gives a message (not eager, not called
    directly), so a retry is published to the broker as a worker's would be."""
    context: dict[str, Any] = {
        "id": "portal-link-test", "args": args, "kwargs": {}, "retries": 0, "is_eager": False,
        "called_directly": False, "delivery_info": {"routing_key": QUEUE},
    }  # fmt: skip
    send_portal_link_task.push_request(**context)
    try:
        send_portal_link_task.run(*args)
    finally:
        send_portal_link_task.pop_request()


class FailingOnceBackend(EmailBackend):
    """The locmem backend, whose first send raises as an unreachable mail server would."""

    failures_left = 0

    def send_messages(self, messages: Any) -> int:
        if FailingOnceBackend.failures_left > 0:
            FailingOnceBackend.failures_left -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


def test_a_failed_e_mail_leaves_no_link_and_is_retried_for_that_school(
    settings: Any, guardian: Guardian, real_broker: Any
) -> None:
    # given the guardian's ask waits on the queue, and a mail server that fails once
    ask_for_link(Client(REMOTE_ADDR="10.1.2.3"), "parent@example.org")
    [(_, args, _)] = queued_tasks(real_broker)
    real_broker.delete(QUEUE)
    settings.EMAIL_BACKEND = f"{__name__}.FailingOnceBackend"
    FailingOnceBackend.failures_left = 1
    # when a worker runs the task
    with pytest.raises(Retry):
        run_as_worker(args)
    # then nothing of the failed attempt is left, and a retry for the guardian's school alone
    # is queued for later
    assert not PortalLink.objects.exists() and mail.outbox == []
    assert not AuditEvent.objects.filter(action="portal.link_send").exists()
    [(_, retry_args, raw)] = queued_tasks(real_broker)
    school_id = guardian.participant.organization_id
    assert retry_args == [*args, [school_id]]
    assert json.loads(raw)["headers"]["eta"]
    # when the retry runs, one link is e-mailed
    run_as_worker(retry_args)
    [message] = mail.outbox
    [link] = PortalLink.objects.all()
    assert link.token_hash == hash_token(portal_token_in(message))
    assert AuditEvent.objects.filter(action="portal.link_send").count() == 1


def test_in_process_a_failed_e_mail_shows_the_usual_page(settings: Any, guardian: Guardian) -> None:
    # given tasks run in the request (no broker) and a mail server that fails
    settings.EMAIL_BACKEND = f"{__name__}.FailingOnceBackend"
    FailingOnceBackend.failures_left = 1
    # when the guardian asks for a link, the page is the one every address gets
    response = ask_for_link(Client(), "parent@example.org")
    assert response.status_code == 200
    assert response.content == ask_for_link(Client(), "nobody@example.org").content
    # and no link was left behind
    assert not PortalLink.objects.exists() and mail.outbox == []
