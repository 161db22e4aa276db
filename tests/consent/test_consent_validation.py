"""A consent record says truthfully who decided and when; inconsistent records are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from consent.actions import ConsentError, record_consent
from consent.models import ConsentNotice, ConsentRecord, Decision, GivenBy
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Participant


def _record(student: Participant, **overrides: object) -> ConsentRecord:
    fields: dict[str, object] = {
        "scopes": ["emotion_analysis"],
        "decision": Decision.GRANT,
        "given_by": GivenBy.GUARDIAN,
        "evidence_reference": "form-7",
        "evidence_date": timezone.localdate(),
    }
    fields.update(overrides)
    return record_consent(AuditContext.system(student.organization), student, **fields)  # type: ignore[arg-type]


def test_student_decision_naming_a_guardian_is_refused(
    student: Participant, guardian: Guardian, notice: ConsentNotice
) -> None:
    # when a student's own refusal is recorded with a guardian attached
    with pytest.raises(ConsentError, match="names no guardian"):
        _record(student, decision=Decision.REFUSE, given_by=GivenBy.STUDENT, guardian=guardian)
    # then nothing was recorded or audited
    assert not ConsentRecord.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="consent.").exists()


def test_evidence_dated_in_the_future_is_refused(
    student: Participant, guardian: Guardian, notice: ConsentNotice
) -> None:
    future = timezone.localdate() + dt.timedelta(days=30)
    with pytest.raises(ConsentError, match="in the future"):
        _record(student, guardian=guardian, evidence_date=future)
    assert not ConsentRecord.objects.exists()


def test_todays_form_is_accepted(
    student: Participant, guardian: Guardian, notice: ConsentNotice
) -> None:
    record = _record(student, guardian=guardian)
    assert record.guardian == guardian and record.evidence_date == timezone.localdate()
