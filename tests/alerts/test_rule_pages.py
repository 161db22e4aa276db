"""School admins edit rules on pages (each edit a new version); staff choose their e-mails."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone

from alerts.models import Alert, Rule
from tests.alerts.conftest import rule_post
from tests.conftest import login
from tests.otp_codes import login_operator
from wellbeing.models import AuditEvent, Organization, Participant, StaffMember


def current(org: Organization, slug: str) -> Rule:
    return Rule.objects.current().get(organization=org, slug=slug)


def test_admin_edits_a_rule_on_its_page_as_a_new_version(
    school: Organization, admin: StaffMember
) -> None:
    # given: the seeded dry-run sadness rule
    rule = current(school, "sadness")
    client = login(admin)
    # when: the admin lists the rules, opens the rule and switches it on with a new threshold
    listing = client.get("/alerts/rules/")
    response = client.post(
        f"/alerts/rules/{rule.pk}/", rule_post(rule, threshold=0.35, mode="active")
    )
    # then: version 2 is current with the new numbers, version 1 is kept unchanged, audited
    assert listing.status_code == 200 and f"/alerts/rules/{rule.pk}/" in listing.content.decode()
    assert response.status_code == 302
    new = current(school, "sadness")
    assert (new.version, new.threshold, new.mode) == (2, 0.35, "active")
    rule.refresh_from_db()
    assert not rule.is_current and rule.threshold == 0.30 and rule.mode == "dry_run"
    assert AuditEvent.objects.filter(action="rule.update", target_id=str(new.pk)).exists()


def test_inconsistent_rule_is_refused_on_the_page(school: Organization, admin: StaffMember) -> None:
    # given
    rule = current(school, "sustained-negative")
    # when: the clear threshold equals the raise threshold (no hysteresis)
    response = login(admin).post(
        f"/alerts/rules/{rule.pk}/", rule_post(rule, clear_threshold=rule.threshold)
    )
    # then: the form says why and nothing is stored
    assert response.status_code == 200 and "hysteresis" in response.content.decode()
    assert current(school, "sustained-negative").version == 1


def test_only_the_schools_admin_edits_its_current_rules(
    school: Organization, counselor: StaffMember, other_admin: StaffMember, admin: StaffMember
) -> None:
    # given: a rule with an old version
    rule = current(school, "sadness")
    login(admin).post(f"/alerts/rules/{rule.pk}/", rule_post(rule, threshold=0.4))
    new = current(school, "sadness")
    # when / then: counselors read the list but may not edit; another school sees nothing;
    # the old version cannot be edited
    assert login(counselor).get("/alerts/rules/").status_code == 200
    assert login(counselor).get(f"/alerts/rules/{new.pk}/").status_code == 403
    assert login(other_admin).get(f"/alerts/rules/{new.pk}/").status_code == 404
    assert login(admin).get(f"/alerts/rules/{rule.pk}/").status_code == 404
    assert login(admin).get(f"/alerts/rules/{new.pk}/").status_code == 200


def test_counselor_chooses_the_daily_digest(counselor: StaffMember, teacher: StaffMember) -> None:
    # given
    client = login(counselor)
    assert client.get("/alerts/preferences/").status_code == 200
    # when
    response = client.post("/alerts/preferences/", {"email_preference": "digest"})
    bad = client.post("/alerts/preferences/", {"email_preference": "hourly"})
    # then: the choice is stored and audited; an unknown choice changes nothing
    counselor.refresh_from_db()
    assert response.status_code == 302 and bad.status_code == 200
    assert counselor.email_preference == "digest"
    assert AuditEvent.objects.filter(action="alert.email_preference").count() == 1
    assert login(teacher).get("/alerts/preferences/").status_code == 403


def test_django_admin_edit_is_a_new_version_and_bad_numbers_are_form_errors(
    school: Organization,
) -> None:
    # given: an operator in the Django admin
    operator = User.objects.create_superuser("operator", "op@example.org", "pw-correct-horse")
    client = login_operator(operator)
    rule = current(school, "engagement-drop")
    url = f"/admin/alerts/rule/{rule.pk}/change/"
    # when: an inconsistent edit, then a good one
    bad = client.post(url, rule_post(rule, clear_threshold=0.9))
    good = client.post(url, rule_post(rule, persistence_m=4))
    # then: the first is a form error (not a server error), the second a new version
    assert bad.status_code == 200 and "hysteresis" in bad.content.decode()
    assert good.status_code == 302
    new = current(school, "engagement-drop")
    assert (new.version, new.persistence_m) == (2, 4)
    assert Rule.objects.get(pk=rule.pk).persistence_m == 3
    # and the old version is no longer editable
    assert "current version" in client.post(url, rule_post(rule)).content.decode()


def test_rules_page_shows_how_useful_each_rules_alerts_were(
    school: Organization, admin: StaffMember, student: Participant
) -> None:
    # given: three alerts of the sustained-negative rule: rated useful, not useful, unrated
    rule = current(school, "sustained-negative")
    for useful in (True, False, None):
        Alert.objects.create(
            organization=school, participant=student, rule=rule, rule_slug=rule.slug,
            severity="notify", state="resolved", useful=useful, evidence={},
            window_start="2026-02-02", window_end="2026-02-06", raised_at=timezone.now(),
        )  # fmt: skip
    # when
    page = login(admin).get("/alerts/rules/").content.decode()
    # then: the admin sees the precision next to the rule's numbers
    assert "3 raised; 1 of 2 rated useful (50%)" in page
    assert "0 raised; none rated yet" in page
