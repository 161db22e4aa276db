"""The operator's Django admin: participant data is view-only there and every read is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, Rule
from consent.models import FaceTemplate
from tests.factories import make_guardian
from tests.otp_codes import login_operator
from tests.time_series import add_rollup, add_series, probs
from wellbeing.admin_audit import AuditedParticipantDataAdmin, refers_to_participant
from wellbeing.models import AuditEvent, Participant

TODAY = dt.date(2026, 3, 9)


@pytest.fixture
def operator(db: Any) -> Client:
    return login_operator(User.objects.create_superuser("root", "root@example.org", "pw-root-y7"))


def _url(obj: models.Model, view: str = "change") -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/{view}/"


def _alert(student: Participant) -> Alert:
    rule = Rule.objects.filter(organization=student.organization).first()
    assert rule is not None
    return Alert.objects.create(
        organization=student.organization, participant=student, rule=rule,
        rule_slug=rule.slug, severity="notify", evidence={}, window_start=TODAY,
        window_end=TODAY, raised_at=timezone.now(),
    )  # fmt: skip


MAKERS = {
    "participant": lambda s: s,
    "guardian": make_guardian,
    "daily rollup": lambda s: add_rollup(s, TODAY, probs(sad=0.4)),
    "session total": lambda s: add_series(s).session_totals.get(),
    "face template": lambda s: FaceTemplate.objects.create(
        participant=s, ciphertext=b"x", embedder="test"
    ),
    "alert": _alert,
}


def test_every_admin_of_participant_data_is_audited_and_view_only() -> None:
    # given every model registered in the Django admin
    linked = {
        model._meta.label: type(model_admin)
        for model, model_admin in admin.site._registry.items()
        if refers_to_participant(model)
    }
    # then the ones that hold a participant's data are all found (so the rule is not vacuous)
    expected = {
        "wellbeing.Participant", "wellbeing.Guardian", "wellbeing.CaseloadAssignment",
        "capture.CaptureDevice", "capture.ClassSession", "consent.ConsentRecord",
        "consent.FaceTemplate", "capture.Observation", "capture.MinuteAggregate",
        "capture.DailyRollup", "capture.SessionTotal", "alerts.Alert", "alerts.EmailDelivery",
        "privacy.ErasureRequest",
    }  # fmt: skip
    assert expected <= set(linked)
    # and each of them, including any added later, uses the audited view-only admin
    plain = sorted(
        name for name, cls in linked.items() if not issubclass(cls, AuditedParticipantDataAdmin)
    )
    assert plain == []
    assert not refers_to_participant(apps.get_model("privacy", "DeidentifiedDailyTotal"))


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_reading_an_object_is_audited_and_it_cannot_be_changed_or_deleted(
    kind: str, operator: Client, student: Participant
) -> None:
    obj = MAKERS[kind](student)
    model = type(obj)
    # when the operator opens the object's page
    assert operator.get(_url(obj)).status_code == 200
    # then the read is in the school's audit trail, naming the person and the operator
    event = AuditEvent.objects.get(action="participant.view")
    assert event.participant_pseudonym == student.pseudonym
    assert event.organization == student.organization
    assert event.actor_label == "root (operator)" and event.actor is not None
    assert event.detail["section"] == f"django admin: {model._meta.model_name}"
    # when they try to delete it or add another
    assert operator.post(_url(obj, "delete"), {"post": "yes"}).status_code == 403
    assert (
        operator.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/").status_code
        == 403
    )
    # then it is still there
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_list_page_names_who_was_shown_per_school(
    operator: Client, student: Participant, other_student: Participant
) -> None:
    # given day totals of students in two schools
    for person in (student, other_student):
        add_rollup(person, TODAY, probs(happy=0.5))
    # when the operator lists day totals
    assert operator.get("/admin/capture/dailyrollup/").status_code == 200
    # then each school's trail has one list event naming only its own student
    events = {e.organization_id: e for e in AuditEvent.objects.filter(action="participant.list")}
    assert events[student.organization_id].detail["pseudonyms"] == [student.pseudonym]
    assert events[other_student.organization_id].detail["pseudonyms"] == [other_student.pseudonym]


def test_bulk_delete_is_not_offered(operator: Client, student: Participant) -> None:
    add_rollup(student, TODAY, probs(happy=0.5))
    page = operator.get("/admin/capture/dailyrollup/").content.decode()
    assert "delete_selected" not in page
