"""The family portal's expression chart of one student (shown only where the school turned
``Organization.portal_shows_expression_charts`` on): the daily shares of the seven expressions
over every day whose totals are stored, read by the counselor's student page's own series code
(dashboard.series.daily_series, dashboard.student_overview.series_payload), so the numbers a
family sees are the ones the counselor sees.

Callers must already have checked that the portal session holder may see the participant
(consent.portal.portal_person) and that the school shows the charts
(``portal_charts_shown``); ``load_portal_charts`` records the view in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.palette import EMOTION_COLOURS
from dashboard.series import DateRange, SeriesPoint, daily_series, stored_day_range
from dashboard.student_overview import series_payload
from inference.model_manifest import CANONICAL_CLASSES
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Organization, Participant


def portal_charts_shown(organization: Organization) -> bool:
    """Whether the school lets its families see expression charts in the portal (off unless
    a school admin turns it on)."""
    return bool(organization.portal_shows_expression_charts)


@dataclass(frozen=True)
class PortalCharts:
    """One student's stored days: ``rng`` is None (and ``days`` empty) when none is stored."""

    participant: Participant
    rng: DateRange | None
    days: list[SeriesPoint]

    @property
    def observed_days(self) -> list[SeriesPoint]:
        return [point for point in self.days if point.n]

    def chart_payload(self) -> dict[str, Any]:
        """JSON for dashboard/student.js's timeline (the only chart on the portal's page):
        percentages rounded to 0.1, a gap (null) for each day without observations. No alert
        markers: alerts are the counselor's to follow up, not the family's to read off a chart."""
        return {
            "emotions": list(CANONICAL_CLASSES),
            "colours": EMOTION_COLOURS,
            "timeline": series_payload(self.days),
            "markers": [],
        }


def load_portal_charts(ctx: AuditContext, participant: Participant) -> PortalCharts:
    """The student's daily expression shares over their stored days; records
    ``portal.charts`` (by the portal's holder, naming the student and the days shown)."""
    rng = stored_day_range(participant)
    days = daily_series(participant, rng, participant.organization.tzinfo) if rng else []
    detail = {"start": rng.start.isoformat(), "end": rng.end.isoformat()} if rng else {}
    record_audit(ctx, "portal.charts", target=participant, participant=participant, **detail)
    return PortalCharts(participant, rng, days)
