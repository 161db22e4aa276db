"""The rule engine: pure, deterministic functions over already-loaded series (no queries).

Vocabulary:

* ``Totals``: sums of one window (a school day or a class session) of one participant, in the
  column order of :data:`TOTAL_FIELDS` (the same sums as capture.models.EmotionSums).
* ``Window``: one participant's totals for one window, with the day it belongs to and the peer
  groups it is compared with (its classrooms on that day, or its class session).
* ``RuleSpec``: the numbers of one rule version (a frozen copy of alerts.models.Rule).

Every signal is oriented so that higher is worse (engagement drop = 1 - engaged share). Missing
data is never negative: a window below the minimum observed minutes, or with no value, counts
as neither abnormal nor recovered.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NEGATIVE: tuple[str, ...] = ("angry", "disgust", "fear", "sad")
TOTAL_FIELDS: tuple[str, ...] = (
    "n",
    *(f"s_{name}" for name in EMOTIONS),
    "engaged_n",
    "engagement_known_n",
    "minutes",
)
_N, _ENGAGED, _KNOWN, _MINUTES = 0, 8, 9, 10
_EMOTION_INDEX = {name: 1 + i for i, name in enumerate(EMOTIONS)}
_NEGATIVE_INDEXES = tuple(_EMOTION_INDEX[name] for name in NEGATIVE)
MIN_BASELINE_WINDOWS = 5
MIN_PEERS_FOR_MEDIAN = 3

Totals = tuple[float, ...]


class RuleSpecError(ValueError):
    """A rule's numbers are inconsistent (e.g. clear threshold above the raise threshold)."""


@dataclass(frozen=True)
class RuleSpec:
    """The numbers of one rule version; see alerts.models.Rule for their meaning."""

    rule_id: int
    slug: str
    version: int
    signal: str
    threshold: float
    clear_threshold: float
    emotion: str = ""
    window: str = "day"
    baseline_weeks: int = 4
    baseline_margin: float = 0.1
    class_margin: float | None = 0.1
    min_minutes: int = 20
    persistence_m: int = 3
    persistence_d: int = 5
    clear_after_days: int = 3
    cooldown_days: int = 14
    severity: str = "notify"

    def __post_init__(self) -> None:
        check_rule_numbers(self)


def check_rule_numbers(spec: Any) -> None:
    """Raise RuleSpecError with a plain-words reason when the rule cannot work as written."""
    problems = []
    # Strictly lower: with equal thresholds a value hovering at the line raises and clears.
    if not 0.0 <= spec.clear_threshold < spec.threshold <= 1.0:
        problems.append("need 0 <= clear threshold < threshold <= 1 (hysteresis)")
    if not 1 <= spec.persistence_m <= spec.persistence_d <= 60:
        problems.append("need 1 <= M <= D <= 60 for 'abnormal on M of the last D school days'")
    if spec.signal == "emotion_share" and spec.emotion not in EMOTIONS:
        problems.append(f"an emotion_share rule needs an emotion out of {', '.join(EMOTIONS)}")
    if spec.signal not in ("negative_share", "emotion_share", "engagement_drop"):
        problems.append(f"unknown signal {spec.signal!r}")
    if spec.clear_after_days < 1:
        problems.append("clear after days must be at least 1")
    if problems:
        raise RuleSpecError("Rule cannot be used: " + "; ".join(problems) + ".")


class Window(NamedTuple):
    """One window of one participant (a NamedTuple: a school has ~10^6 of them per
    evaluation, and building frozen dataclasses took longer than summing them in SQL)."""

    day: dt.date
    label: str
    totals: Totals
    groups: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class PriorAlert:
    """The participant's latest alert for the rule family, as far as evaluation needs it."""

    alert_id: int
    active: bool
    window_end: dt.date
    cleared: bool = False
    closed_on: dt.date | None = None


@dataclass
class Decision:
    kind: Literal["raise", "clear", "none"]
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def signal_value(spec: RuleSpec, totals: Totals) -> float | None:
    """The window's value for the rule's signal (0..1, higher is worse), None when unknown."""
    n = totals[_N]
    if spec.signal == "engagement_drop":
        known = totals[_KNOWN]
        return None if known <= 0 else 1.0 - totals[_ENGAGED] / known
    if n <= 0:
        return None
    if spec.signal == "emotion_share":
        return totals[_EMOTION_INDEX[spec.emotion]] / n
    return sum(totals[i] for i in _NEGATIVE_INDEXES) / n


def observed_value(spec: RuleSpec, window: Window) -> float | None:
    """The value when the window has enough observed minutes, otherwise None (not counted)."""
    if window.totals[_MINUTES] < spec.min_minutes:
        return None
    return signal_value(spec, window.totals)


def observed_values(spec: RuleSpec, windows: Sequence[Window]) -> list[float | None]:
    """observed_value of every window, computed once per rule and participant."""
    return [observed_value(spec, w) for w in windows]


def compute_group_medians(
    spec: RuleSpec,
    windows_by_participant: Mapping[int, Sequence[Window]],
    values_by_participant: Mapping[int, Sequence[float | None]] | None = None,
    days: Collection[dt.date] | None = None,
) -> dict[Hashable, float]:
    """Median observed value per peer group (classroom-day or class session).

    Groups with fewer than MIN_PEERS_FOR_MEDIAN observed members get no median, so a class of
    one never suppresses its own alert. With ``days``, only the groups of windows on those days
    (the ones a decision compares) get a median, each over all of its members.
    """
    wanted: set[Hashable] | None = None
    if days is not None:
        wanted = {
            group
            for windows in windows_by_participant.values()
            for window in windows
            if window.day in days
            for group in window.groups
        }
    values: dict[Hashable, list[float]] = defaultdict(list)
    for pid, windows in windows_by_participant.items():
        known = values_by_participant[pid] if values_by_participant else None
        for i, window in enumerate(windows):
            groups = window.groups
            if wanted is not None:
                groups = tuple(group for group in groups if group in wanted)
                if not groups:
                    continue
            value = known[i] if known is not None else observed_value(spec, window)
            if value is not None:
                for group in groups:
                    values[group].append(value)
    return {
        group: statistics.median(vals)
        for group, vals in values.items()
        if len(vals) >= MIN_PEERS_FOR_MEDIAN
    }


def compute_baseline(
    spec: RuleSpec,
    windows: Sequence[Window],
    values: Sequence[float | None],
    before: dt.date,
) -> tuple[float | None, int]:
    """Median of the participant's observed values in the baseline weeks before ``before``.

    Returns (baseline, windows used); the baseline is None with fewer than MIN_BASELINE_WINDOWS.
    """
    if spec.baseline_weeks <= 0:
        return None, 0
    start = before - dt.timedelta(weeks=spec.baseline_weeks)
    vals = [
        v for w, v in zip(windows, values, strict=True) if v is not None and start <= w.day < before
    ]
    if len(vals) < MIN_BASELINE_WINDOWS:
        return None, len(vals)
    return statistics.median(vals), len(vals)


# Shares are ratios of sums of floats; the same rows summed in another order (per minute, per
# session total, per day) can land 1e-16 either side of a threshold. Comparisons allow this much
# so a decision never depends on the order of additions.
FLOAT_TOLERANCE = 1e-9


def reaches(value: float, bound: float) -> bool:
    """``value >= bound``, allowing for float rounding (FLOAT_TOLERANCE)."""
    return value >= bound - FLOAT_TOLERANCE


def judge_window(
    spec: RuleSpec,
    window: Window,
    value: float | None,
    baseline: float | None,
    medians: Mapping[Hashable, float],
) -> dict[str, Any]:
    """Evidence row for one window: its value, the comparisons made and whether it is abnormal."""
    peer = [medians[g] for g in window.groups if g in medians]
    # With several classrooms the highest median wins: if any of the student's classes dipped
    # as a whole, the dip is not the student's own.
    class_median = max(peer) if peer else None
    row: dict[str, Any] = {
        "day": window.day.isoformat(),
        "window": window.label,
        "minutes": int(window.totals[_MINUTES]),
        "value": None if value is None else round(value, 4),
        "class_median": None if class_median is None else round(class_median, 4),
    }
    if value is None:
        row.update(abnormal=False, why="too few observed minutes (not counted)")
        return row
    failed = []
    if not reaches(value, spec.threshold):
        failed.append("below threshold")
    if baseline is not None and not reaches(value, baseline + spec.baseline_margin):
        failed.append("within own baseline")
    margin = spec.class_margin
    if (
        margin is not None
        and class_median is not None
        and not reaches(value, class_median + margin)
    ):
        failed.append("in line with the class")
    row.update(abnormal=not failed, why="; ".join(failed) or "abnormal")
    return row


def recent_school_days(school_days: Sequence[dt.date], as_of: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` school days on or before ``as_of`` (fewer when history is short)."""
    past = [d for d in school_days if d <= as_of]
    return past[-count:]


def evaluate_series(
    spec: RuleSpec,
    windows: Sequence[Window],
    school_days: Sequence[dt.date],
    as_of: dt.date,
    medians: Mapping[Hashable, float],
    prior: PriorAlert | None = None,
    values: Sequence[float | None] | None = None,
) -> Decision:
    """Decide for one participant and one rule at ``as_of`` (windows sorted by day).

    ``values`` are the windows' observed values when the caller has them already (otherwise
    only the recent windows' are computed unless a baseline is needed). Returns "raise" with
    the evidence, "clear" when an active alert's signal recovered, or "none" with the reason.
    Deterministic: the same inputs give the same decision.
    """
    if prior is not None and prior.active:
        if prior.cleared:
            return Decision("none", "an alert is active (signal already recovered)")
        values = observed_values(spec, windows) if values is None else values
        return decide_clear(spec, windows, values, as_of, prior)
    fresh_after = prior.window_end if prior else dt.date.min
    if prior is not None and prior.closed_on is not None:
        until = prior.closed_on + dt.timedelta(days=spec.cooldown_days)
        if as_of < until:
            return Decision("none", f"cooldown until {until.isoformat()}")
    days = recent_school_days(school_days, as_of, spec.persistence_d)
    # Only days after the previous alert's evidence count: a new alert needs fresh evidence.
    days = [d for d in days if d > fresh_after]
    if not days:
        return Decision("none", "no school days to judge")
    judged = set(days)
    if values is None:
        recent = [(w, observed_value(spec, w)) for w in windows if w.day in judged]
    else:
        recent = [(w, v) for w, v in zip(windows, values, strict=True) if w.day in judged]
    # Cheap necessary condition first: most students never reach the absolute threshold.
    above = {w.day for w, v in recent if v is not None and reaches(v, spec.threshold)}
    if len(above) < spec.persistence_m:
        return Decision("none", f"above the threshold on {len(above)} of {len(days)} days")
    values = observed_values(spec, windows) if values is None else values
    baseline, baseline_n = compute_baseline(spec, windows, values, days[0])
    rows = [judge_window(spec, w, v, baseline, medians) for w, v in recent]
    abnormal_days = sorted({r["day"] for r in rows if r["abnormal"]})
    if len(abnormal_days) < spec.persistence_m:
        return Decision("none", f"abnormal on {len(abnormal_days)} of {len(days)} school days")
    evidence = build_evidence(spec, days, rows, abnormal_days, baseline, baseline_n)
    return Decision("raise", evidence["summary"], evidence)


def decide_clear(
    spec: RuleSpec,
    windows: Sequence[Window],
    values: Sequence[float | None],
    as_of: dt.date,
    prior: PriorAlert,
) -> Decision:
    """Clear when the last ``clear_after_days`` observed days after the alert are all below
    the clear threshold; days in between the two thresholds keep the alert standing."""
    daily: dict[dt.date, float] = {}
    for w, value in zip(windows, values, strict=True):
        if prior.window_end < w.day <= as_of and value is not None:
            daily[w.day] = max(value, daily.get(w.day, 0.0))
    last = sorted(daily)[-spec.clear_after_days :]
    if len(last) < spec.clear_after_days:
        return Decision("none", "alert active; not enough observed days since to clear")
    if any(reaches(daily[d], spec.clear_threshold) for d in last):
        return Decision("none", "alert active; signal not below the clear threshold")
    values_shown = [{"day": d.isoformat(), "value": round(daily[d], 4)} for d in last]
    return Decision(
        "clear",
        f"below the clear threshold {spec.clear_threshold} on the last {len(last)} observed days",
        {"clear_threshold": spec.clear_threshold, "days": values_shown},
    )


def build_evidence(
    spec: RuleSpec,
    days: Sequence[dt.date],
    rows: list[dict[str, Any]],
    abnormal_days: list[str],
    baseline: float | None,
    baseline_n: int,
) -> dict[str, Any]:
    """The JSON stored on an alert: everything a counselor needs to see why it fired."""
    summary = (
        f"abnormal on {len(abnormal_days)} of the last {len(days)} school days "
        f"(rule needs {spec.persistence_m} of {spec.persistence_d})"
    )
    return {
        "summary": summary,
        "rule": {"id": spec.rule_id, "slug": spec.slug, "version": spec.version},
        "signal": spec.signal,
        "emotion": spec.emotion,
        "window_kind": spec.window,
        "thresholds": {
            "threshold": spec.threshold,
            "clear_threshold": spec.clear_threshold,
            "baseline_margin": spec.baseline_margin if spec.baseline_weeks else None,
            "class_margin": spec.class_margin,
            "min_minutes": spec.min_minutes,
            "persistence": [spec.persistence_m, spec.persistence_d],
        },
        "baseline": {
            "weeks": spec.baseline_weeks,
            "value": None if baseline is None else round(baseline, 4),
            "windows": baseline_n,
            "used": baseline is not None,
        },
        "school_days": [d.isoformat() for d in days],
        "abnormal_days": abnormal_days,
        "windows": rows,
    }
