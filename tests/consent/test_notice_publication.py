"""Publishing a new notice version ends every active consent, so it is confirmed first.

The lapse itself stays (fresh consent per version); what it does to stored data is stated
before anything happens, in the page and in the API, and nothing is published or deleted
without an explicit confirmation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, Rule
from capture.models import DailyRollup, MinuteAggregate, Observation, PresenceTally, SessionTotal
from consent import notice_publication
from consent.actions import ConsentError, LapsesChanged, publish_notice
from consent.models import ConsentNotice, FaceTemplate
from consent.notice_publication import PublicationNotConfirmed, publish_confirmed_notice
from consent.rules import consent_state
from privacy.models import DeidentifiedDailyTotal
from tests.api.conftest import client_for, post_json
from tests.conftest import login
from tests.factories import grant_consent, make_participant
from tests.time_series import add_presence_tally, add_series
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Guardian, Participant, StaffMember

NEW = {"title": "Emotion analysis, now with engagement", "text": "We also estimate attention."}
PAGE = "/consent/notices/"


def _stored(participant: Participant) -> dict[str, int]:
    return {
        "observations": Observation.objects.filter(participant=participant).count(),
        "minute_aggregates": MinuteAggregate.objects.filter(participant=participant).count(),
        "session_totals": SessionTotal.objects.filter(participant=participant).count(),
        "daily_rollups": DailyRollup.objects.filter(participant=participant).count(),
        "presence_tallies": PresenceTally.objects.filter(participant=participant).count(),
        "templates": FaceTemplate.objects.filter(participant=participant).count(),
        "alerts_open": Alert.objects.filter(participant=participant).active().count(),
    }


@pytest.fixture
def consented(student: Participant, guardian: Guardian, notice: ConsentNotice) -> Participant:
    """The student with consent under v1, stored numbers, two templates and an open alert; a
    classmate without consent, whose data must not be counted."""
    grant_consent(student, guardian)
    session = add_series(student)
    add_presence_tally(student, session, timezone.now())
    for _ in range(2):
        FaceTemplate.objects.create(participant=student, ciphertext=b"x", embedder="test")
    rule = Rule.objects.filter(organization=student.organization).first()
    assert rule is not None
    today = timezone.localdate()
    Alert.objects.create(
        organization=student.organization, participant=student, rule=rule,
        rule_slug=rule.slug, severity="notify", evidence={},
        window_start=today - dt.timedelta(days=4), window_end=today, raised_at=timezone.now(),
    )  # fmt: skip
    make_participant(student.organization, "Casey Unconsented", student.classrooms.first())
    return student


def test_the_action_refuses_to_publish_unconfirmed(consented: Participant) -> None:
    before = _stored(consented)
    # when code publishes without confirmation
    with pytest.raises(ConsentError, match="confirm"):
        ctx = AuditContext.system(consented.organization)
        publish_notice(ctx, NEW["title"], NEW["text"], confirmed=False)
    # then no version was added and the consent and data are untouched
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1
    assert consent_state(consented, ["emotion_analysis"]).allows("emotion_analysis")
    assert _stored(consented) == before


def test_api_without_confirm_states_the_consequences_and_changes_nothing(
    admin: StaffMember, consented: Participant
) -> None:
    client = client_for(admin)
    before = _stored(consented)
    # when the admin posts a new version without confirm
    response = post_json(client, "/api/notices/", NEW)
    # then 400 names what would lapse and be deleted, and nothing happened
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "confirmation_required"
    consequences = body["consequences"]
    assert consequences["next_version"] == 2
    assert (consequences["consents_lapsing"], consequences["participants"]) == (1, 2)
    assert consequences["observations"] == before["observations"] == 1
    assert consequences["templates"] == before["templates"] == 2
    assert consequences["presence_tallies"] == before["presence_tallies"] == 1
    assert "1 'present, not assessable' tallies" in body["detail"]
    assert consequences["alerts_closed"] == before["alerts_open"] == 1
    assert "1 of 2 participants" in body["detail"] and "cannot be undone" in body["detail"]
    assert _stored(consented) == before
    assert not AuditEvent.objects.filter(action="notice.publish", detail__version=2).exists()


def test_api_with_confirm_does_exactly_what_it_stated(
    admin: StaffMember, consented: Participant
) -> None:
    client = client_for(admin)
    # given the stated consequences
    stated = post_json(client, "/api/notices/", NEW).json()["consequences"]
    # when the admin confirms what was stated
    reviewed = stated["consents_lapsing"]
    response = post_json(
        client, "/api/notices/", {**NEW, "confirm": True, "reviewed_lapses": reviewed}
    )
    # then version 2 is current, the consent lapsed and the stated data is gone or closed
    assert response.status_code == 201 and response.json()["version"] == 2
    assert "confirm" not in response.json()
    assert consent_state(consented, ["emotion_analysis"]).active_scopes == frozenset()
    after = _stored(consented)
    assert after == dict.fromkeys(after, 0)
    event = AuditEvent.objects.get(action="notice.publish", detail__version=2)
    assert event.detail["consents_lapsed"] == stated["consents_lapsing"] == 1
    withdrawal = AuditEvent.objects.get(action="data.withdrawal_policy")
    assert withdrawal.detail["observations"] == stated["observations"]
    assert withdrawal.detail["daily_rollups"] == stated["daily_rollups"]
    assert withdrawal.detail["presence_tallies"] == stated["presence_tallies"] == 1
    assert withdrawal.detail["session_totals"] == stated["session_totals"] == 1


def test_deidentify_policy_is_stated_and_applied(
    admin: StaffMember, consented: Participant
) -> None:
    school = consented.organization
    school.withdrawal_policy = "deidentify"
    school.save()
    client = client_for(admin)
    # when the admin asks to publish
    detail = post_json(client, "/api/notices/", NEW).json()["detail"]
    # then the statement says day totals are pooled and for how long they are kept
    assert "de-identified grade totals" in detail and f"{school.daily_rollup_days} days" in detail
    post_json(client, "/api/notices/", {**NEW, "confirm": True, "reviewed_lapses": 1})
    assert DeidentifiedDailyTotal.objects.filter(organization=school).count() == 1


def test_page_reviews_then_publishes_only_on_confirmation(
    admin: StaffMember, consented: Participant
) -> None:
    client: Client = login(admin)
    before = _stored(consented)
    # given the notices page lists version 1
    assert "v1 (current)" in client.get(PAGE).content.decode()
    # when the admin submits a new version
    review = client.post(PAGE, NEW)
    # then a confirmation page states the consequences, and nothing is published yet
    page = review.content.decode()
    assert review.status_code == 200
    assert "1 of 2 participants" in page and "2 face templates" in page
    assert "1 &ldquo;present, not assessable&rdquo; tallies" in page
    assert "and end 1 consents" in page and 'name="reviewed_lapses" value="1"' in page
    assert _stored(consented) == before
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1
    # when the admin confirms what they reviewed
    done = client.post(PAGE, {**NEW, "confirm": "True", "reviewed_lapses": "1"})
    # then version 2 is published and the consequences happened
    assert done.status_code == 302
    assert ConsentNotice.objects.current_for(consented.organization).version == 2  # type: ignore[union-attr]
    assert _stored(consented)["observations"] == 0


def test_page_asks_again_when_the_figures_changed_since_the_review(
    admin: StaffMember, consented: Participant, guardian: Guardian
) -> None:
    client = login(admin)
    # given the admin reviewed a publication when nobody had consent
    reviewed_lapses = "0"
    # when they confirm after a consent was recorded (1 would now lapse)
    response = client.post(PAGE, {**NEW, "confirm": "True", "reviewed_lapses": reviewed_lapses})
    # then nothing is published and the review is shown again with the current figures
    assert response.status_code == 200
    assert "figures changed" in response.content.decode()
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1
    assert _stored(consented)["observations"] == 1


@pytest.mark.parametrize("persona", ["counselor", "teacher"])
def test_only_admins_publish(
    persona: str, request: Any, consented: Participant, admin: StaffMember
) -> None:
    staff: StaffMember = request.getfixturevalue(persona)
    client = login(staff)
    response = client.post(PAGE, {**NEW, "confirm": "True", "reviewed_lapses": "1"})
    assert response.status_code == 403
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1


def test_the_public_retention_page_says_what_a_new_version_does(
    client: Client, consented: Participant
) -> None:
    # when a family reads the school's public retention page
    page = client.get(f"/schools/{consented.organization.slug}/retention/").content.decode()
    # then it says a new notice version ends consent with the effects of a withdrawal
    assert "publishes a new version" in page and "same effects as a withdrawal" in page


def test_api_refuses_a_stale_reviewed_count(admin: StaffMember, consented: Participant) -> None:
    client = client_for(admin)
    before = _stored(consented)
    # given the admin reviewed a publication when no consent would lapse
    reviewed = {**NEW, "confirm": True, "reviewed_lapses": 0}
    # when they confirm after the student's consent was recorded (1 would now lapse)
    response = post_json(client, "/api/notices/", reviewed)
    # then nothing is published, and the answer states the current figures to review again
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "confirmation_required"
    assert body["detail"].startswith("The figures changed since the review")
    assert body["consequences"]["consents_lapsing"] == 1
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1
    assert _stored(consented) == before


def test_api_confirm_alone_still_publishes_while_nothing_lapses(
    admin: StaffMember, student: Participant, notice: ConsentNotice
) -> None:
    # given a school where nobody has consent yet
    client = client_for(admin)
    # when an older client confirms without a reviewed count
    response = post_json(client, "/api/notices/", {**NEW, "confirm": True})
    # then it publishes, as before: the omitted count is 0, and 0 consents lapse
    assert response.status_code == 201 and response.json()["version"] == 2


def test_the_action_itself_refuses_a_stale_or_missing_count(consented: Participant) -> None:
    ctx = AuditContext.system(consented.organization)
    # when any caller confirms for a count that is out of date, or for no count at all
    with pytest.raises(PublicationNotConfirmed) as stale:
        publish_confirmed_notice(ctx, **NEW, confirm=True, reviewed_lapses=0)
    with pytest.raises(PublicationNotConfirmed) as unreviewed:
        publish_confirmed_notice(ctx, **NEW, confirm=True, reviewed_lapses=None)
    # then both are refused with the current figures, and only the first is "changed"
    assert stale.value.stale and stale.value.effects.consents_lapsing == 1
    assert not unreviewed.value.stale
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1


def test_a_consent_recorded_after_the_review_count_is_not_ended_unseen(
    consented: Participant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the figures were counted before the student's consent was recorded (0 lapsing)
    real = notice_publication.publication_effects
    counts = iter([replace(real(consented.organization), consents_lapsing=0)])
    monkeypatch.setattr(
        notice_publication, "publication_effects", lambda org: next(counts, None) or real(org)
    )
    before = _stored(consented)
    # when the admin confirms the 0 they reviewed
    with pytest.raises(PublicationNotConfirmed) as refused:
        publish_confirmed_notice(
            AuditContext.system(consented.organization), **NEW, confirm=True, reviewed_lapses=0
        )
    # then the count taken under the publication's locks refuses it, with the fresh figures
    assert refused.value.stale and refused.value.effects.consents_lapsing == 1
    assert isinstance(refused.value.__cause__, LapsesChanged)
    assert ConsentNotice.objects.filter(organization=consented.organization).count() == 1
    assert consent_state(consented, ["emotion_analysis"]).allows("emotion_analysis")
    assert _stored(consented) == before
