"""The student page's data: one audited action that loads everything from aggregates.

Callers must already have checked that the actor may see the participant
(``Participant.objects.visible_to``); this module records the view in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consent.models import ALL_SCOPES, Scope
from consent.rules import ConsentState, consent_state
from dashboard.alert_feed import AlertSummary, alert_history
from dashboard.palette import EMOTION_COLOURS
from dashboard.presence import (
    PresenceSummary,
    merge_presence,
    presence_in_range,
    summarise_presence,
)
from dashboard.rule_comparison import RuleComparison, load_rule_comparison
from dashboard.series import (
    Attendance,
    DateRange,
    SeriesPoint,
    daily_series,
    hourly_series,
    range_totals,
    sessions_attended,
    weekly_distribution,
)
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Participant


@dataclass
class StudentOverview:
    participant: Participant
    rng: DateRange
    resolution: str
    timeline: list[SeriesPoint]
    daily: list[SeriesPoint]
    weekly: list[SeriesPoint]
    whole_range: SeriesPoint
    sessions_count: int
    sessions: list[Attendance]
    consent: ConsentState
    alerts: list[AlertSummary] = field(default_factory=list)
    presence: PresenceSummary = field(default_factory=PresenceSummary)
    comparison: RuleComparison | None = None

    @property
    def consent_rows(self) -> list[tuple[str, bool, str]]:
        """(scope label, active, why not) for every consent scope."""
        return [
            (
                str(Scope(scope).label),
                self.consent.allows(scope),
                self.consent.reasons.get(scope, ""),
            )
            for scope in ALL_SCOPES
        ]

    @property
    def sessions_total(self) -> int:
        """Sessions with observations, plus those where the student was only present."""
        return self.sessions_count + self.presence.only_present

    @property
    def observed_days(self) -> list[SeriesPoint]:
        return [point for point in self.daily if point.n]

    def chart_payload(self) -> dict[str, Any]:
        """JSON for dashboard/student.js (percentages rounded to 0.1)."""
        return {
            "emotions": list(CANONICAL_CLASSES),
            "colours": EMOTION_COLOURS,
            "timeline": series_payload(self.timeline),
            "markers": alert_markers(self.timeline, self.alerts),
            "weekly": series_payload(self.weekly),
            "pie": {name: percent(self.whole_range.means.get(name)) for name in CANONICAL_CLASSES},
            "engagement": {
                "labels": [point.label for point in self.daily],
                "values": [percent(point.engagement) for point in self.daily],
            },
            "comparison": comparison_payload(self.comparison, self.daily, self.alerts),
        }


def comparison_payload(
    comparison: RuleComparison | None, daily: list[SeriesPoint], alerts: list[AlertSummary]
) -> dict[str, Any] | None:
    """The rule chart: the student's value, baseline band, class median and threshold per day.

    The band runs from the baseline to baseline + margin: a value inside it is usual for this
    student, and the rule needs the value at or above its top.
    """
    if comparison is None:
        return None
    spec = comparison.spec
    days = comparison.days
    return {
        "rule": comparison.rule.name,
        "words": comparison.words,
        "labels": [d.day.isoformat() for d in days],
        "value": [percent(d.value) for d in days],
        "abnormal": [d.abnormal for d in days],
        "baselineLow": [percent(d.baseline) for d in days],
        "baselineHigh": [
            None if d.baseline is None else percent(min(d.baseline + spec.baseline_margin, 1.0))
            for d in days
        ],
        "classMedian": [percent(d.class_median) for d in days],
        "threshold": percent(spec.threshold),
        "markers": alert_markers(daily, alerts),
    }


def percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def series_payload(points: list[SeriesPoint]) -> dict[str, Any]:
    return {
        "labels": [point.label for point in points],
        "series": {
            name: [percent(point.means.get(name)) for point in points] for name in CANONICAL_CLASSES
        },
    }


def alert_markers(points: list[SeriesPoint], alerts: list[AlertSummary]) -> list[dict[str, Any]]:
    """Runs of timeline points that fall on an alert's evidence days (local dates).

    Each marker is {"from": first index, "to": last index, "label": ...}; points on evidence
    days form one run unless a point with observations that is not an evidence day lies between
    them, so a day-resolution chart gets one band per streak of school days: a weekend or holiday
    without data inside the streak does not split it.
    """
    markers = []
    for alert in alerts:
        days = set(alert.days)
        hits = [i for i, p in enumerate(points) if p.at is not None and p.at.date() in days]
        for first, last in evidence_runs(hits, points):
            markers.append(
                {"from": first, "to": last, "label": f"{alert.rule} ({alert.severity.lower()})"}
            )
    return markers


def evidence_runs(indexes: list[int], points: list[SeriesPoint]) -> list[tuple[int, int]]:
    """(first, last) runs of ``indexes``, bridging only points without observations."""
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and all(points[j].n == 0 for j in range(runs[-1][1] + 1, i)):
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def load_student_overview(
    ctx: AuditContext, participant: Participant, rng: DateRange, resolution: str
) -> StudentOverview:
    """Everything the student page shows; records a 'participant.dashboard_view' audit event."""
    tz = participant.organization.tzinfo
    daily = daily_series(participant, rng, tz)
    timeline = hourly_series(participant, rng, tz) if resolution == "hour" else daily
    weekly = weekly_distribution(participant, rng)
    alerts = alert_history(participant)
    prefer = [a.rule_slug for a in alerts if a.active]
    comparison = load_rule_comparison(participant, rng.start, rng.end, prefer)
    sessions_count, attended = sessions_attended(participant, rng, tz)
    tallies = presence_in_range(participant, rng, tz)
    overview = StudentOverview(
        participant=participant,
        rng=rng,
        resolution=resolution,
        timeline=timeline,
        daily=daily,
        weekly=weekly,
        whole_range=range_totals(weekly),
        sessions_count=sessions_count,
        sessions=merge_presence(attended, tallies, tz),
        consent=consent_state(participant, ALL_SCOPES),
        alerts=alerts,
        presence=summarise_presence(participant, rng, tz, tallies),
        comparison=comparison,
    )
    record_audit(
        ctx,
        "participant.dashboard_view",
        target=participant,
        participant=participant,
        start=rng.start.isoformat(),
        end=rng.end.isoformat(),
        resolution=resolution,
    )
    return overview
