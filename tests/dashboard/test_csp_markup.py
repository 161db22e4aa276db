"""Dashboard pages pass a CSP without 'unsafe-inline': no inline script, style or handlers."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from capture.models import SessionStatus
from tests.conftest import login
from tests.dashboard.conftest import inline_problems
from tests.time_series import add_minutes, add_rollup, make_session, probs
from wellbeing.models import Classroom, Participant, StaffMember


def test_every_dashboard_page_is_free_of_inline_code_and_images(
    admin: StaffMember, student: Participant, classroom: Classroom
) -> None:
    # given a student with data and a running session
    now = timezone.now()
    session = make_session(classroom, now, SessionStatus.RUNNING)
    add_minutes(student, session, now - dt.timedelta(minutes=5), 5, probs(sad=0.4))
    add_rollup(student, timezone.localdate(), probs(sad=0.4))
    client = login(admin)
    urls = [
        reverse("dashboard:home"),
        reverse("dashboard:student", args=[student.pk]),
        reverse("dashboard:live", args=[session.pk]),
        reverse("dashboard:reports"),
        reverse("dashboard:reports_print"),
    ]
    for url in urls:
        # when each page is rendered
        response = client.get(url)
        # then it has only external scripts, JSON data blocks, and no inline style or images
        assert response.status_code == 200, url
        assert inline_problems(response.content) == [], url
