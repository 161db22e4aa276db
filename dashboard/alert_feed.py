"""Read-only view of the alerts app for the dashboard: open counts, history, evidence windows
and the counselor's first screen (open alerts by urgency and age, evidence in one line, a
sparkline of the rule's signal).

Fields used: Alert.participant, rule, state, severity, raised_at, window_start/window_end and
the evidence (abnormal_days, school_days, windows, thresholds, baseline, signal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.urls import reverse

from alerts.evaluation import spec_of
from alerts.models import Alert, AlertQuerySet
from alerts.rules import Window, observed_values
from alerts.series import load_daily_series
from dashboard.rule_comparison import signal_words
from dashboard.sparklines import Sparkline, make_sparkline
from wellbeing.models import Participant, StaffMember

OPEN_STATES = ("open", "acknowledged")


def open_alert_counts(participant_ids: Iterable[int]) -> dict[int, int]:
    """Open or acknowledged alerts per participant (0 for those without)."""
    ids = list(participant_ids)
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = (
        Alert.objects.filter(participant_id__in=ids, state__in=OPEN_STATES)
        .values("participant_id")
        .annotate(total=Count("id"))
    )
    for row in rows:
        counts[row["participant_id"]] = row["total"]
    return counts


def open_alerts_filter() -> Q:
    """A Q on Participant counting open alerts."""
    return Q(alerts__state__in=OPEN_STATES)


@dataclass(frozen=True)
class AlertSummary:
    """What the student page shows of one alert; ``days`` are its evidence's abnormal days."""

    pk: int
    rule: str
    severity: str
    state: str
    raised_at: dt.datetime
    summary: str
    url: str
    days: list[dt.date] = field(default_factory=list)
    rule_slug: str = ""
    active: bool = False


def parse_day(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def evidence_days(alert: Any) -> list[dt.date]:
    """The abnormal days named in the evidence, else every day of window_start..window_end."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    listed = evidence.get("abnormal_days")
    days = [d for d in map(parse_day, listed) if d] if isinstance(listed, list) else []
    if days:
        return sorted(days)
    span = (alert.window_end - alert.window_start).days
    return [alert.window_start + dt.timedelta(days=i) for i in range(max(span, 0) + 1)]


def alert_url(pk: int) -> str:
    return reverse("alerts:detail", args=[pk])


def summarise_alert(alert: Any) -> AlertSummary:
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    return AlertSummary(
        pk=alert.pk,
        rule=str(alert.rule.name),
        severity=alert.get_severity_display(),
        state=alert.get_state_display(),
        raised_at=alert.raised_at,
        summary=str(evidence.get("summary", "")),
        url=alert_url(alert.pk),
        days=evidence_days(alert),
        rule_slug=alert.rule_slug,
        active=alert.state in OPEN_STATES,
    )


def alert_history(participant: Participant, limit: int = 50) -> list[AlertSummary]:
    """The participant's most recent alerts, newest first."""
    rows = (
        Alert.objects.filter(participant=participant)
        .select_related("rule")
        .order_by("-raised_at")[:limit]
    )
    return [summarise_alert(alert) for alert in rows]


# The counselor's first screen: open alerts, most urgent then oldest first, one line each.

FEED_DAYS = 14
FEED_LIMIT = 10


def pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%"


def value_span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return pct(low) if pct(low) == pct(high) else f"{pct(low)} to {pct(high)}"


def evidence_line(evidence: Any) -> str:
    """The evidence in one line: what, how much, on how many days, against what.

    E.g. "negative affect 58% to 64% on 3 of the last 5 school days (threshold 45%; own baseline
    30%; class median up to 28%)". Falls back to the stored summary for older evidence.
    """
    evidence = evidence if isinstance(evidence, dict) else {}
    rows = [r for r in evidence.get("windows") or [] if isinstance(r, dict) and r.get("abnormal")]
    values = [r["value"] for r in rows if isinstance(r.get("value"), int | float)]
    if not values:
        return str(evidence.get("summary", ""))
    words = signal_words(str(evidence.get("signal", "")), str(evidence.get("emotion", "")))
    days = len(evidence.get("abnormal_days") or rows)
    judged = len(evidence.get("school_days") or []) or days
    against = [f"threshold {pct((evidence.get('thresholds') or {}).get('threshold', 0))}"]
    baseline = evidence.get("baseline") or {}
    if baseline.get("used"):
        against.append(f"own baseline {pct(baseline['value'])}")
    else:
        against.append("no own baseline yet")
    medians = [r["class_median"] for r in rows if isinstance(r.get("class_median"), int | float)]
    if medians:
        against.append(f"class median up to {pct(max(medians))}")
    return (
        f"{words} {value_span(values)} on {days} of the last {judged} school days "
        f"({'; '.join(against)})"
    )


@dataclass(frozen=True)
class FeedItem:
    """One open alert on the first screen."""

    pk: int
    url: str
    student: Participant
    rule: str
    severity: str
    severity_label: str
    state_label: str
    raised_at: dt.datetime
    age_days: int
    evidence: str
    spark: Sparkline


@dataclass(frozen=True)
class AlertFeed:
    items: list[FeedItem]
    total: int


def open_alerts_by_urgency(staff: StaffMember) -> AlertQuerySet:
    """The staff member's open and acknowledged alerts, urgent first, then oldest first."""
    return (
        Alert.objects.visible_to_staff(staff)
        .active()
        .select_related("participant", "rule")
        .by_severity_then_age()
    )


def alert_sparkline(alert: Alert, windows: list[Window], days: list[dt.date]) -> Sparkline:
    """The rule's daily values over ``days``; evidence days ringed, the threshold dashed."""
    spec = spec_of(alert.rule)
    by_day = dict(zip((w.day for w in windows), observed_values(spec, windows), strict=True))
    evidence = set(evidence_days(alert))
    return make_sparkline(
        [by_day.get(day) for day in days],
        marked=[i for i, day in enumerate(days) if day in evidence],
        reference=spec.threshold,
        subject=signal_words(spec.signal, spec.emotion),
    )


def open_alert_feed(staff: StaffMember, today: dt.date, limit: int = FEED_LIMIT) -> AlertFeed:
    """The first ``limit`` open alerts with evidence lines and sparklines (at most 6 queries)."""
    ordered = open_alerts_by_urgency(staff)
    alerts = list(ordered[:limit])
    total = len(alerts) if len(alerts) < limit else ordered.count()
    days = [today - dt.timedelta(days=FEED_DAYS - 1 - i) for i in range(FEED_DAYS)]
    ids = {a.participant_id for a in alerts}
    windows = load_daily_series(staff.organization, days[0], today, ids).windows if ids else {}
    items = [
        FeedItem(
            pk=a.pk,
            url=alert_url(a.pk),
            student=a.participant,
            rule=str(a.rule.name),
            severity=a.severity,
            severity_label=a.get_severity_display(),
            state_label=a.get_state_display(),
            raised_at=a.raised_at,
            age_days=max((today - staff.organization.local_date(a.raised_at)).days, 0),
            evidence=evidence_line(a.evidence),
            spark=alert_sparkline(a, windows.get(a.participant_id, []), days),
        )
        for a in alerts
    ]
    return AlertFeed(items, total)
