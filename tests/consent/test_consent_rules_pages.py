"""The consent rules page and the age on a participant's page: review first, then confirm."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.urls import reverse

from consent.models import Scope
from consent.rules import consent_state
from tests.conftest import login
from tests.factories import grant_consent
from wellbeing.models import AuditEvent, Organization, Participant, StaffMember


def _hidden(html: str) -> dict[str, str]:
    """The review page's hidden confirmation fields."""
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
    return {name: value for name, value in fields if name != "csrfmiddlewaretoken"}


def test_the_rules_page_shows_the_rules_presets_and_the_refusal_invariant(
    admin: StaffMember, counselor: StaffMember
) -> None:
    page = login(admin).get(reverse("consent:rules")).content.decode()
    assert "UK rules: a student&#x27;s own grant from 13" in page
    assert "A refusal by the student or by any guardian always wins" in page
    assert "Ley Orgánica 3/2018 (LOPDGDD), Art. 7" in page
    assert login(counselor).get(reverse("consent:rules")).status_code == 403


def test_a_legacy_school_is_told_to_choose(admin: StaffMember) -> None:
    Organization.objects.filter(pk=admin.organization_id).update(
        consent_rules_preset="legacy", student_consent_age=0, guardian_consent_for_biometrics=False
    )
    page = login(admin).get(reverse("consent:rules")).content.decode()
    assert "still runs the <strong>legacy rules</strong>" in page


def test_changing_the_rules_shows_who_loses_consent_before_changing_it(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    # given a 14-year-old (by band) whose own grant of emotion analysis counts under UK rules
    student.age_band = "13-15"
    student.save()
    grant_consent(student, given_by="student", scopes=(Scope.EMOTION_ANALYSIS,))
    client = login(admin)
    # when the admin asks for the Netherlands' rules (16)
    review = client.post(reverse("consent:rules"), {"preset": "eu-nl"})
    # then the review names the student, the scope and the reason, and nothing changed yet
    html = review.content.decode()
    assert review.status_code == 200
    assert "Alex Student" in html and "treated as under 16" in html
    assert "Confirm and end the consent of 1" in html
    assert consent_state(Participant.objects.get(pk=student.pk), ["emotion_analysis"]).allows(
        "emotion_analysis"
    )
    # when they confirm that review
    done = client.post(reverse("consent:rules"), _hidden(html))
    # then the rules changed, the consent ended and the change is audited
    assert done.status_code == 302
    fresh = Participant.objects.get(pk=student.pk)
    assert fresh.organization.consent_rules_preset == "eu-nl"
    assert consent_state(fresh, ["emotion_analysis"]).active_scopes == frozenset()
    assert AuditEvent.objects.filter(action="consent_rules.change").exists()


def test_a_stale_review_is_shown_again_and_changes_nothing(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    # given a review with nobody losing consent
    client = login(admin)
    html = client.post(reverse("consent:rules"), {"preset": "eu-nl"}).content.decode()
    # when a 14-year-old grants alone before the admin confirms
    student.age_band = "13-15"
    student.save()
    grant_consent(student, given_by="student", scopes=(Scope.EMOTION_ANALYSIS,))
    again = client.post(reverse("consent:rules"), _hidden(html))
    # then the review is shown again with the new figures, and nothing changed
    assert "not what you reviewed" in again.content.decode()
    assert Participant.objects.get(pk=student.pk).organization.consent_rules_preset == "uk"


def test_recording_an_age_that_ends_consent_goes_through_the_review(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    # given a 16-17 student whose own grant of emotion analysis counts
    student.age_band = "16-17"
    student.save()
    grant_consent(student, given_by="student", scopes=(Scope.EMOTION_ANALYSIS,))
    client = login(admin)
    url = reverse("consent:participant_age", args=[student.pk])
    detail = client.get(reverse("consent:participant", args=[student.pk])).content.decode()
    assert "Age on record: <strong>in the 16-17 age band</strong>" in detail
    # when a date of birth showing they are 10 is entered
    review = client.post(url, {"date_of_birth": "2016-01-15"}).content.decode()
    # then the review says why, and nothing is saved yet
    assert "student is 10: a guardian&#x27;s consent is required under UK rules" in review
    student.refresh_from_db()
    assert student.date_of_birth is None
    # when confirmed, it is saved and the consent ended
    assert client.post(url, _hidden(review)).status_code == 302
    student.refresh_from_db()
    assert student.date_of_birth == dt.date(2016, 1, 15)
    assert consent_state(student, ["emotion_analysis"]).active_scopes == frozenset()


def test_an_implausible_date_of_birth_is_refused_on_the_page(
    admin: StaffMember, student: Participant
) -> None:
    url = reverse("consent:participant_age", args=[student.pk])
    login(admin).post(url, {"date_of_birth": "2090-01-01"})
    student.refresh_from_db()
    assert student.date_of_birth is None


def test_a_participant_is_created_with_a_year_of_birth(admin: StaffMember) -> None:
    login(admin).post(
        reverse("consent:participant_create"), {"full_name": "New Kid", "birth_year": "2014"}
    )
    assert Participant.objects.get(full_name="New Kid").birth_year == 2014
