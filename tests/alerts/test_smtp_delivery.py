"""The one test against a real SMTP server (aiosmtpd on a free port, started by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.models import DeliveryStatus, EmailDelivery
from alerts.tasks import send_delivery_task
from tests.alerts.conftest import raise_alert_for
from tests.local_services import free_port
from wellbeing.models import Organization, Participant


class FlakyHandler:
    """Refuses the first ``failures`` messages with 451 (try again later), then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.refused = 0
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refused < self.failures:
            self.refused += 1
            return "451 4.3.0 Temporary failure, try again"
        content = envelope.content or b""
        self.accepted.append(content.encode() if isinstance(content, str) else content)
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Any, eager_retries: None) -> Iterator[FlakyHandler]:
    handler = FlakyHandler(failures=1)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER = False, ""
    try:
        yield handler
    finally:
        controller.stop()


def test_smtp_failure_is_retried_and_never_duplicated(
    school: Organization,
    pupils: list[Participant],
    smtp_server: FlakyHandler,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # when: an alert is raised and the server refuses the first attempt with a 451
    raise_alert_for(school, pupils, django_capture_on_commit_callbacks)
    delivery = EmailDelivery.objects.get()
    # then: the task retried and the server accepted exactly one message
    delivery.refresh_from_db()
    assert smtp_server.refused == 1 and len(smtp_server.accepted) == 1
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert "451" in delivery.last_error
    content = smtp_server.accepted[0].decode()
    assert "Content-Type: text/html" in content and "Content-Type: text/plain" in content
    assert pupils[0].full_name not in content
    # when: the same delivery task is delivered again (e.g. a redelivered broker message)
    result = send_delivery_task.delay(delivery.pk).get()
    # then: no second e-mail
    assert result == "already sent" and len(smtp_server.accepted) == 1
