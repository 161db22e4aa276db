"""The counselor's alert inbox: open alerts by severity and age, acted on inline with notes and
usefulness feedback (JSON answers for the page's script), and no images anywhere."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse
from django.utils import timezone

from tests.conftest import login
from tests.dashboard.conftest import inline_problems
from tests.factories import make_participant
from tests.time_series import make_alert
from wellbeing.models import Organization, StaffMember


def test_inbox_lists_urgent_first_then_oldest_first_with_their_age(
    school: Organization, counselor: StaffMember
) -> None:
    # given alerts of three severities and ages on the caseload, and a resolved one
    now = timezone.now()
    names = {
        ("Watch Old", "watch", 9),
        ("Notify New", "notify", 1),
        ("Urgent New", "urgent", 2),
        ("Notify Old", "notify", 5),
        ("Urgent Old", "urgent", 4),
    }
    for name, severity, days_ago in names:
        kid = make_participant(school, name, counselor=counselor)
        raised = now - dt.timedelta(days=days_ago)
        make_alert(kid, [raised.date()], severity=severity, raised_at=raised)
    closed = make_participant(school, "Closed Case", counselor=counselor)
    make_alert(closed, [now.date()], "resolved")
    # when the counselor opens the inbox
    body = login(counselor).get(reverse("alerts:inbox")).content.decode()
    # then the active alerts are ordered by severity, oldest first within one, with their age
    order = re.findall(r"<td>([A-Z][a-z]+ (?:Old|New)) <small>", body)
    assert order == ["Urgent Old", "Urgent New", "Notify Old", "Notify New", "Watch Old"]
    assert "Closed Case" not in body
    assert "(4\xa0days ago)" in body and "(1\xa0week, 2\xa0days ago)" in body


def test_acknowledged_alert_can_be_resolved_inline_with_usefulness(
    school: Organization, counselor: StaffMember
) -> None:
    # given an acknowledged alert on the caseload
    kid = make_participant(school, "Ada Lovelace", counselor=counselor)
    alert = make_alert(kid, [timezone.localdate()], state="acknowledged")
    client = login(counselor)
    # then its inbox row offers resolve and dismiss with a usefulness answer, not acknowledge
    body = client.get(reverse("alerts:inbox")).content.decode()
    assert reverse("alerts:act", args=[alert.pk, "resolve"]) in body
    assert reverse("alerts:act", args=[alert.pk, "dismiss"]) in body
    assert 'name="useful"' in body and 'data-action="acknowledge"' not in body
    # when the row's script resolves it with a note, rated useful, asking for JSON
    response = client.post(
        reverse("alerts:act", args=[alert.pk, "resolve"]),
        {"note": "talked, all fine", "useful": "yes"},
        HTTP_ACCEPT="application/json",
    )
    # then the answer is the new state and the note and rating are recorded
    assert response.status_code == 200 and response.json() == {"ok": True, "state": "Resolved"}
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.useful is True
    assert alert.events.get(kind="resolved").note == "talked, all fine"


def test_inline_action_with_a_bad_form_answers_json_not_a_redirect(
    school: Organization, counselor: StaffMember
) -> None:
    # given an open alert
    alert = make_alert(make_participant(school, "Ben", counselor=counselor), [timezone.localdate()])
    # when the script posts an over-long note
    response = login(counselor).post(
        reverse("alerts:act", args=[alert.pk, "dismiss"]),
        {"note": "x" * 2001},
        HTTP_ACCEPT="application/json",
    )
    # then it gets a JSON error it can show in the row, and nothing changed
    assert response.status_code == 400 and response.json()["ok"] is False
    alert.refresh_from_db()
    assert alert.state == "open"


def test_inbox_and_alert_page_have_no_images_or_inline_code(
    school: Organization, counselor: StaffMember
) -> None:
    # given an open alert
    alert = make_alert(make_participant(school, "Cy", counselor=counselor), [timezone.localdate()])
    client = login(counselor)
    for url in (reverse("alerts:inbox"), reverse("alerts:detail", args=[alert.pk])):
        # when the page is rendered, then it holds no image and no inline script or style
        response = client.get(url)
        assert response.status_code == 200, url
        assert inline_problems(response.content) == [], url
