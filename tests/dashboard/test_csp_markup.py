"""Dashboard pages pass a CSP without 'unsafe-inline': no inline script, style or handlers."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse
from django.utils import timezone

from tests.conftest import login
from tests.time_series import add_minutes, add_rollup, make_session, probs
from wellbeing.models import Classroom, Participant, SessionStatus, StaffMember

SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
STYLE_ATTR = re.compile(rb"<[^>]+\sstyle\s*=", re.I)
HANDLER_ATTR = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_TAG = re.compile(rb"<style\b", re.I)
IMAGE = re.compile(rb"<img\b|data:image", re.I)


def inline_problems(html: bytes) -> list[str]:
    problems = []
    for attrs, body in SCRIPT.findall(html):
        is_data = b'type="application/json"' in attrs
        if not is_data and (body.strip() or b"src=" not in attrs):
            problems.append(f"inline script: {attrs[:60]!r}")
    for pattern, what in ((STYLE_ATTR, "style attribute"), (HANDLER_ATTR, "on* handler")):
        problems += [what for _ in pattern.findall(html)]
    problems += ["<style> block" for _ in STYLE_TAG.findall(html)]
    problems += ["image" for _ in IMAGE.findall(html)]
    return problems


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
