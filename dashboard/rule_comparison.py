"""What the alert rules compare a student with: their own baseline and the class median.

Never a second formula: windows are loaded by alerts.series (the loader evaluations use), and
values, baselines and class medians come from alerts.rules (observed_values, compute_baseline,
compute_group_medians, judge_window). Only day-window rules are shown (the dashboard's charts
are per day). Query counts are constant, whatever the number of students.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerts.evaluation import lookback_start, spec_of
from alerts.models import Rule, RuleMode, SignalKind, WindowKind
from alerts.rules import (
    MIN_BASELINE_WINDOWS,
    RuleSpec,
    Window,
    compute_baseline,
    compute_group_medians,
    judge_window,
    observed_values,
    reaches,
    recent_school_days,
)
from alerts.series import (
    SeriesBundle,
    classmates_of,
    consented_participant_ids,
    load_daily_series,
)
from wellbeing.models import Organization, Participant


def signal_words(signal: str, emotion: str = "") -> str:
    """The rule's signal in a few plain words ('negative affect', 'sad share', ...)."""
    if signal == SignalKind.EMOTION_SHARE:
        return f"{emotion} share"
    if signal == SignalKind.ENGAGEMENT_DROP:
        return "not engaged"
    return "negative affect"


def reference_rule(org: Organization, prefer: Iterable[str] = ()) -> Rule | None:
    """The current active day-window rule to compare with (1 query), or None without one.

    The first slug of ``prefer`` (e.g. the rules of the student's open alerts) that is such a
    rule wins; otherwise a negative-affect rule before the others, then by slug.
    """
    rules = list(
        Rule.objects.current().filter(organization=org, mode=RuleMode.ACTIVE, window=WindowKind.DAY)
    )
    by_slug = {rule.slug: rule for rule in rules}
    for slug in prefer:
        if slug in by_slug:
            return by_slug[slug]
    rules.sort(key=lambda r: (r.signal != SignalKind.NEGATIVE_SHARE, r.slug))
    return rules[0] if rules else None


def load_windows(
    org: Organization, spec: RuleSpec, first: dt.date, last: dt.date, ids: Collection[int]
) -> SeriesBundle:
    """Day windows of ``ids`` from the rule's lookback before ``first`` up to ``last``."""
    return load_daily_series(org, lookback_start([spec], first), last, ids)


def baseline_on(
    spec: RuleSpec,
    windows: Sequence[Window],
    values: Sequence[float | None],
    school_days: Sequence[dt.date],
    day: dt.date,
) -> tuple[float | None, int]:
    """The baseline an evaluation on ``day`` (without an earlier alert) compares with.

    As in alerts.rules.evaluate_series: the median before the first judged school day.
    """
    judged = recent_school_days(school_days, day, spec.persistence_d)
    if not judged:
        return None, 0
    return compute_baseline(spec, windows, values, judged[0])


@dataclass(frozen=True)
class BaselineChange:
    """The rule's signal on the school days it judges now against the student's baseline."""

    recent: float | None
    baseline: float | None
    baseline_windows: int
    margin: float
    words: str = "negative affect"

    @property
    def change(self) -> float | None:
        if self.recent is None or self.baseline is None:
            return None
        return self.recent - self.baseline

    @property
    def points(self) -> str:
        """The change in percentage points ('+12 pts', '-3 pts'), '' when unknown."""
        change = self.change
        return "" if change is None else f"{round(change * 100):+d} pts"

    @property
    def explanation(self) -> str:
        if self.recent is None:
            return f"no {self.words} observed on the school days the rule judges now"
        if self.baseline is None:
            return (
                f"{self.words} {self.recent * 100:.0f}% lately; no own baseline yet "
                f"({self.baseline_windows} observed days, the rule needs {MIN_BASELINE_WINDOWS})"
            )
        return (
            f"{self.words} {self.recent * 100:.0f}% on the school days the rule judges now, "
            f"own baseline {self.baseline * 100:.0f}% (median of {self.baseline_windows} days)"
        )

    @property
    def beyond_margin(self) -> bool:
        """At least the rule's baseline margin above the baseline (the rule's own test)."""
        change = self.change
        return change is not None and reaches(change, self.margin)


def baseline_change(
    spec: RuleSpec, windows: Sequence[Window], school_days: Sequence[dt.date], as_of: dt.date
) -> BaselineChange:
    """Median of the observed values on the last persistence_d school days vs the baseline."""
    values = observed_values(spec, windows)
    judged = set(recent_school_days(school_days, as_of, spec.persistence_d))
    recent = [v for w, v in zip(windows, values, strict=True) if w.day in judged and v is not None]
    baseline, used = baseline_on(spec, windows, values, school_days, as_of)
    median = statistics.median(recent) if recent else None
    words = signal_words(spec.signal, spec.emotion)
    return BaselineChange(median, baseline, used, spec.baseline_margin, words)


def baseline_changes(
    org: Organization, rule: Rule, participant_ids: Collection[int], as_of: dt.date
) -> dict[int, BaselineChange]:
    """baseline_change for each participant (4 queries for any number)."""
    spec = spec_of(rule)
    bundle = load_windows(org, spec, as_of, as_of, participant_ids)
    return {
        pid: baseline_change(spec, bundle.windows.get(pid, []), bundle.school_days, as_of)
        for pid in participant_ids
    }


@dataclass(frozen=True)
class DayComparison:
    """One day as the rule sees it: the value, the baseline band and the class median."""

    day: dt.date
    value: float | None
    baseline: float | None
    class_median: float | None
    abnormal: bool


@dataclass(frozen=True)
class RuleComparison:
    rule: Rule
    spec: RuleSpec
    days: list[DayComparison]

    @property
    def words(self) -> str:
        return signal_words(self.spec.signal, self.spec.emotion)


def compare_days(
    spec: RuleSpec,
    own: Sequence[Window],
    peers: Mapping[int, Sequence[Window]],
    school_days: Sequence[dt.date],
    days: Sequence[dt.date],
) -> list[DayComparison]:
    """Per day: the value of the ``own`` windows, the baseline and the class median of
    ``peers`` (the consented classmates, the student among them when consented), through
    judge_window. The class median exists only on days with an own window (what a rule
    compares).
    """
    windows = list(own)
    values = observed_values(spec, windows)
    medians: Mapping[Hashable, float] = compute_group_medians(spec, peers, days=set(days))
    by_day = {w.day: (w, v) for w, v in zip(windows, values, strict=True)}
    out = []
    for day in days:
        baseline, _ = baseline_on(spec, windows, values, school_days, day)
        if day not in by_day:
            out.append(DayComparison(day, None, baseline, None, False))
            continue
        row = judge_window(spec, *by_day[day], baseline, medians)
        out.append(DayComparison(day, row["value"], baseline, row["class_median"], row["abnormal"]))
    return out


def load_rule_comparison(
    participant: Participant, first: dt.date, last: dt.date, prefer: Iterable[str] = ()
) -> RuleComparison | None:
    """What the reference rule compares ``participant`` with on each day of first..last.

    Class medians are over the consented classmates only, as in an evaluation.
    """
    org = participant.organization
    rule = reference_rule(org, prefer)
    if rule is None:
        return None
    spec = spec_of(rule)
    consented = consented_participant_ids(org, classmates_of(org, {participant.pk}))
    bundle = load_windows(org, spec, first, last, consented | {participant.pk})
    peers = {pid: ws for pid, ws in bundle.windows.items() if pid in consented}
    own = bundle.windows.get(participant.pk, [])
    span = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    days = compare_days(spec, own, peers, bundle.school_days, span)
    return RuleComparison(rule, spec, days)
