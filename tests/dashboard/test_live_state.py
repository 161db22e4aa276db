"""The live view's first picture: class-level counts from the last stored minute."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from capture.models import SessionStatus
from dashboard.live_state import latest_minute_summary, running_sessions
from tests.conftest import login
from tests.factories import make_participant
from tests.time_series import add_minutes, make_session, probs
from wellbeing.models import Classroom, Organization, StaffMember


def test_counts_dominant_emotions_of_the_last_minute_only(
    school: Organization, classroom: Classroom
) -> None:
    # given five students in the last minute (3 happy, 2 sad) and an older sad minute
    session = make_session(classroom, timezone.now(), SessionStatus.RUNNING)
    last = timezone.now().replace(second=0, microsecond=0)
    kids = [make_participant(school, f"Kid {i}", classroom=classroom) for i in range(5)]
    for i, kid in enumerate(kids):
        mood = probs(happy=0.7) if i < 3 else probs(sad=0.7)
        add_minutes(kid, session, last, 1, mood, per_minute=6, engaged=3 if i else 6)
        add_minutes(kid, session, last - dt.timedelta(minutes=5), 1, probs(sad=0.9))
    # when the summary is built with the default group size of 5
    summary = latest_minute_summary(session, 5)
    # then it counts each student once by dominant emotion, with the engaged share
    assert summary["recognised"] == 5 and not summary["suppressed"]
    assert summary["emotions"]["happy"] == 3 and summary["emotions"]["sad"] == 2
    assert sum(summary["emotions"].values()) == 5
    assert summary["engaged_share"] == round((6 + 4 * 3) / 30, 3)
    # and with a group minimum of 6 the figures are withheld
    hidden = latest_minute_summary(session, 6)
    assert hidden["suppressed"] and hidden["emotions"] is None and hidden["engaged_share"] is None


def test_teacher_home_lists_running_sessions_of_own_classes_only(
    school: Organization, teacher: StaffMember, classroom: Classroom
) -> None:
    # given a running session in the teacher's class and one in another class
    mine = make_session(classroom, timezone.now(), SessionStatus.RUNNING, title="Algebra")
    other_room = Classroom.objects.create(organization=school, name="9Z")
    make_session(other_room, timezone.now(), SessionStatus.RUNNING, title="Poetry")
    # then the teacher's home links only their own live session
    assert list(running_sessions(teacher)) == [mine]
    body = login(teacher).get(reverse("dashboard:home")).content.decode()
    assert reverse("dashboard:live", args=[mine.pk]) in body and "Poetry" not in body
