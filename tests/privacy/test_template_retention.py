"""Biometric retention (BIPA model): templates go a set time after the last interaction, which
is the later of the last camera sighting and the latest enrollment."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from consent.models import FaceTemplate
from consent.retention import purge_expired_templates
from consent.template_crypto import encrypt_embedding
from wellbeing.models import AuditEvent, Participant


def _template(participant: Participant, age_days: int) -> FaceTemplate:
    template = FaceTemplate.objects.create(
        participant=participant, ciphertext=encrypt_embedding(np.ones(128)), embedder="t"
    )
    FaceTemplate.objects.filter(pk=template.pk).update(
        created_at=timezone.now() - dt.timedelta(days=age_days)
    )
    return template


def _age(participant: Participant, created_days: int, seen_days: int | None) -> None:
    now = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(
        created_at=now - dt.timedelta(days=created_days),
        last_seen_at=None if seen_days is None else now - dt.timedelta(days=seen_days),
    )


@pytest.mark.parametrize(
    ("record_days", "enrolled_days", "seen_days", "kept"),
    [
        (800, 3, None, True),  # an old record, enrolled last week, not seen yet
        (800, 400, None, False),  # enrolled long ago and never seen since
        (800, 400, 30, True),  # enrolled long ago but seen last month
        (800, 400, 380, False),  # neither enrolled nor seen within the period
        (800, 10, 380, True),  # re-enrolled recently after a long absence
    ],
)
def test_templates_expire_a_year_after_the_last_interaction(
    student: Participant,
    record_days: int,
    enrolled_days: int,
    seen_days: int | None,
    kept: bool,
) -> None:
    # given a school keeping templates 365 days after the last interaction
    assert student.organization.template_days_after_last_seen == 365
    _age(student, record_days, seen_days)
    _template(student, enrolled_days)
    # when the nightly purge runs
    destroyed = purge_expired_templates()
    # then the template is kept only if the student interacted within the period
    assert FaceTemplate.objects.filter(participant=student).exists() == kept
    assert destroyed == (0 if kept else 1)
    events = AuditEvent.objects.filter(action="template.destroy")
    assert events.exists() != kept


def test_every_template_of_an_expired_student_goes(student: Participant) -> None:
    _age(student, 900, 500)
    _template(student, 600)
    _template(student, 450)
    assert purge_expired_templates() == 2
    assert not FaceTemplate.objects.exists()
