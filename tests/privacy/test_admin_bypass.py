"""The Django admin cannot change consent or erasure requests behind the actions' backs.

Withdrawal, objection, a new notice and erasure have effects (templates destroyed, data
deleted, alerts closed, audit events) that only consent.actions and privacy.subject_rights
bring about; the admin shows these records but cannot add, edit or delete them.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from consent.models import ConsentNotice, ConsentRecord
from privacy.models import ErasureRequest
from privacy.subject_rights import open_erasure_request
from tests.factories import grant_consent
from tests.otp_codes import login_operator
from wellbeing.actions import AuditContext
from wellbeing.models import Guardian, Participant


@pytest.fixture
def superuser_client(db: Any) -> Client:
    return login_operator(User.objects.create_superuser("root", "root@example.org", "pw-root-x9"))


@pytest.mark.parametrize("model", [ConsentNotice, ConsentRecord, ErasureRequest])
def test_admin_shows_but_cannot_change_or_delete(
    model: Any,
    superuser_client: Client,
    student: Participant,
    guardian: Guardian,
    notice: Any,
) -> None:
    # given a refusal (an objection) and an open erasure request
    grant_consent(student, guardian, decision="refuse")
    open_erasure_request(AuditContext.system(student.organization), student, "mother")
    obj = model.objects.first()
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    before = model.objects.count()
    # when a superuser opens it, then tries to add, edit or delete through the admin
    assert superuser_client.get(f"{base}{obj.pk}/change/").status_code == 200
    assert superuser_client.get(f"{base}add/").status_code == 403
    superuser_client.post(f"{base}{obj.pk}/change/", {"decision": "grant", "status": "completed"})
    assert superuser_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    # then nothing changed
    assert model.objects.count() == before
    fresh = model.objects.get(pk=obj.pk)
    assert getattr(fresh, "decision", "refuse") == "refuse"
    assert getattr(fresh, "status", "open") == "open"
