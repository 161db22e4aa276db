"""One refusal base class (wellbeing.refusals.Refused), mapped to HTTP in one place."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import APIException

from alerts.workflow import AlertWorkflowError, UsefulnessMissing
from capture.devices import DeviceRefused
from consent.actions import ConsentError, EnrollmentError, LapsesChanged
from consent.notice_publication import PublicationNotConfirmed
from consent.template_crypto import TemplateKeyError
from privacy.subject_rights import ErasureError
from wellbeing.actions import CaseloadRefused, ClassroomRefused, SchoolSettingsRefused
from wellbeing.api.refusals import refusals_as_http
from wellbeing.api_errors import exception_handler
from wellbeing.refusals import NotConfigured, NotYours, Refused
from wellbeing.staff_management import StaffRefused

# Every domain's refusal and the API answer it had before there was one base class.
DOMAIN_REFUSALS: list[tuple[type[Refused], int, str]] = [
    (ConsentError, 400, "consent_refused"),
    (LapsesChanged, 400, "consent_refused"),
    (EnrollmentError, 400, "enrollment_refused"),
    (StaffRefused, 400, "refused"),
    (DeviceRefused, 400, "refused"),
    (CaseloadRefused, 400, "refused"),
    (ClassroomRefused, 400, "refused"),
    (SchoolSettingsRefused, 400, "refused"),
    (ErasureError, 400, "refused"),
    (AlertWorkflowError, 400, "alert_refused"),
    (UsefulnessMissing, 400, "alert_refused"),
    (PublicationNotConfirmed, 400, "confirmation_required"),
    (TemplateKeyError, 503, "not_configured"),
    (NotYours, 404, "not_found"),
]


class ScheduleClash(Refused):
    """A refusal no mapping has heard of, with its own status."""

    code = "schedule_clash"
    status = 409


def _answer(exc: Exception) -> Any:
    response = exception_handler(exc, {})
    assert response is not None
    return response


@pytest.mark.parametrize(("cls", "status", "code"), DOMAIN_REFUSALS)
def test_every_domain_refusal_is_a_refused_with_its_status_and_code(
    cls: type[Refused], status: int, code: str
) -> None:
    # given a domain's refusal class / then it is a Refused, and neither a ValueError nor a
    # PermissionError that a broad except could swallow as a bug
    assert issubclass(cls, Refused)
    assert not issubclass(cls, ValueError | PermissionError)
    assert (cls.status, cls.code) == (status, code)


def test_a_new_refusal_needs_no_entry_in_the_mapping() -> None:
    # when an action raises a refusal class the mapping does not list
    with pytest.raises(APIException) as raised, refusals_as_http():
        raise ScheduleClash("That room is booked then.")
    # then the API answers with the class's status and code and the plain-words reason
    response = _answer(raised.value)
    assert response.status_code == 409
    assert response.data == {"error": "schedule_clash", "detail": "That room is booked then."}


def test_a_refusal_escaping_the_view_is_mapped_the_same_way() -> None:
    # when a view lets a refusal through without refusals_as_http
    response = _answer(DeviceRefused("A revoked device cannot be given a new token."))
    # then the exception handler answers it as refusals_as_http would
    assert response.status_code == 400
    assert response.data == {
        "error": "refused",
        "detail": "A revoked device cannot be given a new token.",
    }


def test_not_yours_is_a_bare_404_that_names_nothing() -> None:
    # when an action refuses another school's object
    response = _answer(NotYours("That device belongs to another school."))
    # then the answer does not repeat the message (it would confirm the object exists)
    assert response.status_code == 404
    assert response.data == {"error": "not_found", "detail": "Not found."}


def test_not_configured_is_503_with_its_reason() -> None:
    response = _answer(NotConfigured("FACE_TEMPLATE_KEY is not set."))
    assert response.status_code == 503
    assert response.data == {"error": "not_configured", "detail": "FACE_TEMPLATE_KEY is not set."}


def test_extra_fields_of_a_refusal_join_the_body() -> None:
    # given a refusal that carries more than a reason
    class WithFigures(Refused):
        code = "with_figures"

        def extra_fields(self) -> dict[str, Any]:
            return {"figures": {"n": 1}}

    # when answered / then the figures follow error and detail
    response = _answer(WithFigures("One would change."))
    assert response.data == {
        "error": "with_figures",
        "detail": "One would change.",
        "figures": {"n": 1},
    }


def test_other_exceptions_pass_through_as_bugs() -> None:
    # when something that is not a refusal goes wrong inside the block / then it is not a 400
    with pytest.raises(ValueError, match="bug"), refusals_as_http():
        raise ValueError("a bug")
