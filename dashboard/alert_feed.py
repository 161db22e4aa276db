"""Read-only view of the alerts app for the dashboard (open counts, history, evidence windows).

Fields used: Alert.participant, rule, state, severity, raised_at, window_start/window_end and
evidence["abnormal_days"].
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.urls import reverse

from alerts.models import Alert
from wellbeing.models import Participant

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
    )


def alert_history(participant: Participant, limit: int = 50) -> list[AlertSummary]:
    """The participant's most recent alerts, newest first."""
    rows = (
        Alert.objects.filter(participant=participant)
        .select_related("rule")
        .order_by("-raised_at")[:limit]
    )
    return [summarise_alert(alert) for alert in rows]
