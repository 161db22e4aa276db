"""The jurisdiction gate: in the EU, capture needs a medical or safety basis AND a DPIA reference.

Everywhere, the transparency notice comes back when capture starts (the client prints it).
"""

from __future__ import annotations

from typing import Any

import pytest

from capture.devices import create_device
from capture.models import ClassSession, ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session
from tests.factories import make_organization
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, EuException, Jurisdiction, Organization


@pytest.mark.parametrize(
    ("jurisdiction", "exception", "dpia", "blocked"),
    [
        (Jurisdiction.EU, EuException.NONE, "", True),
        (Jurisdiction.EU, EuException.NONE, "DPIA-2026-04", True),  # DPIA alone is not a basis
        (Jurisdiction.EU, EuException.MEDICAL, "", True),  # a basis without a DPIA is not enough
        (Jurisdiction.EU, EuException.SAFETY, "   ", True),
        (Jurisdiction.EU, EuException.MEDICAL, "DPIA-2026-04", False),
        (Jurisdiction.EU, EuException.SAFETY, "DPIA-2026-05", False),
        (Jurisdiction.UK, EuException.NONE, "", False),
        (Jurisdiction.US_IL, EuException.NONE, "", False),
    ],
)
def test_capture_block_reason(
    db: Any, jurisdiction: str, exception: str, dpia: str, blocked: bool
) -> None:
    org = Organization(
        name="S", slug="s", jurisdiction=jurisdiction, eu_exception=exception, dpia_reference=dpia
    )
    reason = org.capture_block_reason()
    assert (reason is not None) == blocked
    assert reason is None or "AI Act Art. 5(1)(f)" in reason


def _eu_camera(**fields: Any) -> tuple[Organization, Classroom, str]:
    school = make_organization(
        "Escola", jurisdiction=Jurisdiction.EU, timezone="Europe/Lisbon", **fields
    )
    room = Classroom.objects.create(organization=school, name="5A")
    _, token = create_device(AuditContext.system(school), "5A camera", classroom=room)
    return school, room, token


def test_eu_school_with_safety_basis_and_dpia_starts_and_is_told_the_notice(
    redis_client: Any, db: Any
) -> None:
    # given an EU school that recorded a safety basis and its DPIA
    school, room, token = _eu_camera(
        eu_exception=EuException.SAFETY,
        dpia_reference="DPIA-2026-07",
        transparency_notice="A camera measures engagement in 5A today.",
    )
    # when its camera starts a session
    response = start_session(token)
    # then capture starts and the answer carries the notice the client shows the class
    assert response.status_code == 201, response.content
    assert response.json()["transparency_notice"] == school.transparency_notice
    assert room.sessions.filter(status="running").exists()


def test_frames_are_refused_once_the_basis_is_removed(redis_client: Any, db: Any) -> None:
    # given a running session of an EU school with a recorded basis
    school, _room, token = _eu_camera(eu_exception=EuException.MEDICAL, dpia_reference="D-1")
    session_id = start_session(token).json()["session_id"]
    # when the school removes its basis mid-session
    school.eu_exception = EuException.NONE
    school.save(update_fields=["eu_exception"])
    response = post_frame(token, session_id, 1, read_face("scenes/two_people.jpg"))
    # then the frame is refused with the AI Act reason and nothing is queued or stored
    assert response.status_code == 403
    assert "AI Act" in response.json()["detail"]
    assert list(redis_client.scan_iter("wb:frame:*")) == []
    assert not ProcessedFrame.objects.exists()
    assert ClassSession.objects.get(pk=session_id).frames_processed == 0
