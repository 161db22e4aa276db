"""Signals, comparisons and modes of the rule engine beyond the headline scenarios."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.evaluation import evaluate_organization
from alerts.models import Alert, Rule
from alerts.replay import replay_organization
from alerts.rules import EMOTIONS, RuleSpec, RuleSpecError, Window, judge_window, signal_value
from alerts.workflow import create_rule, update_rule
from tests.alerts.conftest import write_session
from tests.conftest import login
from tests.time_series import school_days, write_day, write_series
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, Organization, Participant, StaffMember


def spec(**fields: object) -> RuleSpec:
    base: dict[str, object] = {"rule_id": 1, "slug": "r", "version": 1}
    base.update({"signal": "negative_share", "threshold": 0.5, "clear_threshold": 0.3})
    base.update(fields)
    return RuleSpec(**base)  # type: ignore[arg-type]


def totals(n: float, engaged: float = 0.0, known: float = 0.0, **shares: float) -> tuple:
    sums = [shares.get(name, 0.0) * n for name in EMOTIONS]
    return (n, *sums, engaged, known, 60.0)


def test_clear_threshold_must_be_strictly_below_the_raise_threshold() -> None:
    # when / then: equal thresholds give no hysteresis band and are refused
    with pytest.raises(RuleSpecError, match="hysteresis"):
        spec(threshold=0.5, clear_threshold=0.5)
    assert spec(threshold=0.5, clear_threshold=0.49).clear_threshold == 0.49


def test_signal_values_for_each_signal_kind() -> None:
    # given: 100 observations: 20% sad, 10% angry, 5% disgust, 5% fear, 60% happy; 30 of 80
    # engagement-known observations engaged
    window = totals(
        100, engaged=30, known=80, sad=0.2, angry=0.1, disgust=0.05, fear=0.05, happy=0.6
    )
    # then: negative share sums the four negative emotions; one emotion; 1 - engaged share
    assert signal_value(spec(), window) == pytest.approx(0.40)
    assert signal_value(spec(signal="emotion_share", emotion="sad"), window) == pytest.approx(0.2)
    assert signal_value(spec(signal="emotion_share", emotion="happy"), window) == pytest.approx(0.6)
    assert signal_value(spec(signal="engagement_drop"), window) == pytest.approx(1 - 30 / 80)
    # and a window without observations has no value (missing, not negative)
    assert signal_value(spec(), totals(0)) is None
    assert signal_value(spec(signal="engagement_drop"), totals(10, known=0)) is None


def test_own_baseline_keeps_a_usually_negative_student_quiet(
    school: Organization, pupils: list[Participant], negative_rule: Rule
) -> None:
    # given: a student whose negative share is always 0.55 (above the 0.45 threshold and the
    # class), classmates calm
    days = school_days(25)
    write_series(pupils[1:], days, 0.15)
    write_series(pupils[:1], days, 0.55)
    # when
    with_baseline = evaluate_organization(school, as_of=days[24])
    # then: nothing, because it is the student's usual level ...
    assert with_baseline.raised == []
    # ... and it is the baseline that holds it back: without it the same data alerts
    update_rule(AuditContext.system(school), negative_rule, baseline_weeks=0)
    without = evaluate_organization(school, as_of=days[24])
    assert len(without.raised) == 1 and Alert.objects.get().participant == pupils[0]
    assert Alert.objects.get().evidence["baseline"]["used"] is False


def test_engagement_drop_rule_alerts_the_disengaged_student(
    school: Organization, pupils: list[Participant]
) -> None:
    # given: the engagement-drop rule switched on; one student attends far less for a week
    rule = Rule.objects.current().get(organization=school, slug="engagement-drop")
    update_rule(AuditContext.system(school), rule, mode="active")
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.15, engaged=0.2)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then: one watch alert, on the engagement signal
    alert = Alert.objects.get(pk=report.raised[0])
    assert len(report.raised) == 1 and alert.participant == pupils[0]
    assert (alert.rule_slug, alert.severity, alert.evidence["signal"]) == (
        "engagement-drop",
        "watch",
        "engagement_drop",
    )


def test_dry_run_rules_raise_nothing_but_replay_shows_them(
    school: Organization, pupils: list[Participant], negative_rule: Rule
) -> None:
    # given: every rule in dry run; a student negative (as sadness) for the last week
    update_rule(AuditContext.system(school), negative_rule, mode="dry_run")
    days = school_days(25)
    write_series(pupils, days, 0.15)
    for day in days[20:]:
        write_day(pupils[0], day, 0.65)
    # when
    report = evaluate_organization(school, as_of=days[24])
    replayed = replay_organization(school, days[15], days[24])
    # then: nothing stored, yet the replay shows what the negative and sadness rules would do
    assert report.rules == 0 and not Alert.objects.exists()
    assert {(label, slug) for label, _, slug in replayed} == {
        (pupils[0].pseudonym, "sustained-negative"),
        (pupils[0].pseudonym, "persistent-high-negative"),
        (pupils[0].pseudonym, "sadness"),
    }


def test_new_rule_from_the_api_starts_in_dry_run(school: Organization, admin: StaffMember) -> None:
    # when: an admin creates a rule without saying its mode
    response = login(admin).post(
        "/api/alert-rules/",
        {"slug": "fear", "name": "Fear", "signal": "emotion_share", "emotion": "fear",
         "threshold": 0.3, "clear_threshold": 0.2},
        "application/json",
    )  # fmt: skip
    # then: it raises nothing until switched on
    assert response.status_code == 201 and response.json()["mode"] == "dry_run"


def test_replay_covers_session_window_rules(
    school: Organization, classroom: Classroom, pupils: list[Participant]
) -> None:
    # given: a session-window rule in dry run and a student negative in 3 of 5 sessions
    create_rule(
        AuditContext.system(school), "session-negative", name="Negative in class sessions",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=0, class_margin=0.1, persistence_m=3, persistence_d=5,
    )  # fmt: skip
    days = school_days(5)
    write_series(pupils, days, 0.15)
    for i, day in enumerate(days):
        sad = {p: (0.7 if p == pupils[0] and i % 2 == 0 else 0.15) for p in pupils}
        write_session(classroom, day, sad)
    # when
    replayed = replay_organization(school, days[0], days[-1], ["session-negative"])
    # then: the session rule is replayed (from session totals), for that student only
    assert [(label, slug) for label, _, slug in replayed] == [
        (pupils[0].pseudonym, "session-negative")
    ]


def test_whole_class_session_dip_alerts_nobody(
    school: Organization, classroom: Classroom, pupils: list[Participant]
) -> None:
    # given: an active session rule; the whole class negative in the same 3 of 5 sessions
    create_rule(
        AuditContext.system(school), "session-negative", name="Negative in class sessions",
        signal="negative_share", window="session", threshold=0.45, clear_threshold=0.35,
        baseline_weeks=0, class_margin=0.1, persistence_m=3, persistence_d=5, mode="active",
    )  # fmt: skip
    days = school_days(5)
    write_series(pupils, days, 0.15)
    for i, day in enumerate(days):
        write_session(classroom, day, {p: (0.7 if i % 2 == 0 else 0.15) for p in pupils})
    # when
    report = evaluate_organization(school, as_of=days[-1])
    # then: the class-session median absorbs the dip
    assert not Alert.objects.filter(rule_slug="session-negative").exists()
    assert report.rules == 2  # the session rule and the default sustained-negative rule


def test_a_share_exactly_at_the_threshold_counts_whatever_the_order_of_additions() -> None:
    # given a 0.45 threshold and a window whose negative share is 0.45 in exact arithmetic but
    # 0.44999999999999996 after float addition (0.1 + 0.35), as one order of summing can give
    rule = spec(threshold=0.45, clear_threshold=0.3, baseline_weeks=0, class_margin=None)
    value = 0.1 + 0.35
    assert value < 0.45
    window = Window(dt.date(2026, 11, 23), "2026-11-23", totals(100, sad=0.45))
    # when the window is judged
    row = judge_window(rule, window, value, None, {})
    # then it reaches the threshold, as the same data summed in another order would
    assert row["abnormal"] is True
    # and a value clearly below it still does not
    assert judge_window(rule, window, 0.4499, None, {})["abnormal"] is False
