"""Scenario tests on generated series, evaluated by the real engine against PostgreSQL."""

from __future__ import annotations

import datetime as dt

from alerts.evaluation import evaluate_organization
from alerts.models import Alert, AlertState, Rule
from tests.time_series import school_days, write_day, write_series
from wellbeing.models import Organization, Participant

CALM, SAD, IN_BETWEEN, RECOVERED = 0.15, 0.65, 0.40, 0.20


def test_student_sad_on_3_of_5_days_alerts_once(
    school: Organization, pupils: list[Participant], negative_rule: Rule
) -> None:
    # given: 20 calm school days for the class, then one student sad on 3 of the next 5
    days = school_days(25)
    write_series(pupils, days, CALM)
    alex = pupils[0]
    for day in (days[20], days[22], days[24]):
        write_day(alex, day, SAD)
    # when: the rules are evaluated twice on the last day
    first = evaluate_organization(school, as_of=days[24])
    second = evaluate_organization(school, as_of=days[24])
    # then: exactly one alert, for that student, citing the rule version and the 3 days
    alerts = list(Alert.objects.filter(organization=school))
    assert len(alerts) == 1 and first.raised == [alerts[0].pk] and second.raised == []
    evidence = alerts[0].evidence
    assert alerts[0].participant == alex
    assert evidence["rule"] == {"id": negative_rule.pk, "slug": negative_rule.slug, "version": 1}
    assert evidence["abnormal_days"] == [d.isoformat() for d in (days[20], days[22], days[24])]
    assert evidence["baseline"]["used"] and abs(evidence["baseline"]["value"] - CALM) < 1e-6


def test_two_of_five_days_is_not_enough(school: Organization, pupils: list[Participant]) -> None:
    # given: the student is sad on only 2 of the last 5 days
    days = school_days(25)
    write_series(pupils, days, CALM)
    for day in (days[21], days[24]):
        write_day(pupils[0], day, SAD)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then
    assert report.raised == []


def test_class_wide_dip_alerts_nobody(school: Organization, pupils: list[Participant]) -> None:
    # given: the whole class is negative on the same 3 of 5 days (a hard test week)
    days = school_days(25)
    write_series(pupils, days[:20], CALM)
    write_series(pupils, [days[20], days[22], days[24]], SAD)
    write_series(pupils, [days[21], days[23]], CALM)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then: the class median absorbs the dip
    assert report.raised == [] and not Alert.objects.exists()


def test_sparse_data_alerts_nobody(school: Organization, pupils: list[Participant]) -> None:
    # given: very negative values, but only 5 observed minutes on each of those days
    days = school_days(25)
    write_series(pupils, days, CALM)
    for day in (days[20], days[22], days[24]):
        write_day(pupils[0], day, 0.9, minutes=5)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then: thin windows count as missing, never as negative
    assert report.raised == []


def test_missing_days_are_not_negative(school: Organization, pupils: list[Participant]) -> None:
    # given: a student absent (no rows) for the whole last week, classmates calm
    days = school_days(25)
    write_series(pupils[1:], days, CALM)
    write_series(pupils[:1], days[:20], CALM)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then
    assert report.raised == []


def test_recovery_clears_only_below_the_clear_threshold(
    school: Organization, pupils: list[Participant]
) -> None:
    # given: an alert raised on day 24
    days = school_days(33)
    write_series(pupils, days, CALM)
    for day in days[20:25]:
        write_day(pupils[0], day, SAD)
    evaluate_organization(school, as_of=days[24])
    alert = Alert.objects.get()
    # when: three days between the clear and raise thresholds, then three recovered days
    for day in days[25:28]:
        write_day(pupils[0], day, IN_BETWEEN)
    for day in days[28:31]:
        write_day(pupils[0], day, RECOVERED)
    in_between = evaluate_organization(school, as_of=days[27])
    recovered = evaluate_organization(school, as_of=days[30])
    # then: hysteresis holds the alert in the band and clears it below the clear threshold
    assert in_between.cleared == []
    assert recovered.cleared == [alert.pk]
    alert.refresh_from_db()
    assert alert.cleared_at is not None and alert.state == AlertState.OPEN
    assert list(alert.events.values_list("kind", flat=True)) == ["raised", "cleared"]


def test_cooldown_holds_then_expires(school: Organization, pupils: list[Participant]) -> None:
    # given: an alert raised on day 24 and resolved by the counselor that day
    days = school_days(50)
    write_series(pupils, days, CALM)
    for day in days[20:]:
        write_day(pupils[0], day, SAD)  # the student stays sad throughout
    evaluate_organization(school, as_of=days[24])
    closed_on = dt.datetime.combine(days[24], dt.time(15), tzinfo=dt.UTC)
    Alert.objects.update(state=AlertState.RESOLVED, closed_at=closed_on)
    # when: evaluated every school day for the next five weeks
    raised_on = [d for d in days[25:] if evaluate_organization(school, as_of=d).raised]
    # then: nothing inside the 14-day cooldown, a new alert on the first day after it
    assert raised_on == [next(d for d in days if d >= days[24] + dt.timedelta(days=14))]
    assert Alert.objects.count() == 2


def test_only_consented_participants_are_evaluated(
    school: Organization, pupils: list[Participant], classroom: object
) -> None:
    # given: a sad student in the class without any consent on record
    from tests.factories import make_participant

    days = school_days(25)
    write_series(pupils, days, CALM)
    unconsented = make_participant(school, "No Consent", classroom=classroom)  # type: ignore[arg-type]
    write_series([unconsented], days[:20], CALM)
    write_series([unconsented], days[20:], SAD)
    # when
    report = evaluate_organization(school, as_of=days[24])
    # then
    assert report.raised == [] and report.participants == len(pupils)
