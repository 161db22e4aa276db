"""The worker's gallery follows enrollment without a restart: a new template counts next frame."""

from __future__ import annotations

from typing import Any

import pytest

from capture.models import Observation
from tests.capture.conftest import enroll, post_frame, read_face, start_session
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.models import Classroom, Organization, Participant

pytestmark = pytest.mark.django_db

SCENE = "scenes/obama+biden.jpg"


def test_a_new_enrollment_is_recognised_from_the_next_frame(
    camera: Any, school: Organization, classroom: Classroom, obama: Participant, redis_client: Any
) -> None:
    # given a session whose first frame showed Biden before he was enrolled
    token, device = camera[1], camera[0]
    session_id = start_session(token).json()["session_id"]
    post_frame(token, session_id, 1, read_face(SCENE))
    assert set(Observation.objects.values_list("participant_id", flat=True)) == {obama.pk}
    # when he is consented and enrolled during the session
    biden = make_participant(school, "Biden Student", classroom=classroom)
    grant_consent(biden, make_guardian(biden))
    enroll(biden, "biden")
    post_frame(token, session_id, 2, read_face(SCENE))
    # then the very next frame attributes him (same worker process, no restart)
    second = Observation.objects.filter(frame_id=f"{device.pk}:2")
    assert set(second.values_list("participant_id", flat=True)) == {obama.pk, biden.pk}
