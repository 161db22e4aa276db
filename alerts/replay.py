"""Replaying rules over stored or generated series, writing nothing (for tuning thresholds).

The replay walks every school day in a range and applies the same pure decision function as
the live engine. It simulates the workflow in the simplest way: an alert stays open until its
signal recovers, and the counselor is assumed to close it that day (so the cooldown starts).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alerts.evaluation import lookback_start, spec_of
from alerts.models import Rule, WindowKind
from alerts.rules import (
    EMOTIONS,
    PriorAlert,
    RuleSpec,
    Window,
    compute_group_medians,
    evaluate_series,
    observed_values,
)
from alerts.series import (
    SeriesBundle,
    consented_participant_ids,
    load_daily_series,
    load_session_series,
)
from wellbeing.models import Organization, Participant

WeekKey = tuple[str, str, str]  # (participant label, ISO week, rule slug)


@dataclass(frozen=True)
class GeneratedSeries:
    """Synthetic daily series: who had a planted episode and when the class-wide dips were."""

    bundle: SeriesBundle
    episodes: dict[int, list[dt.date]]
    dip_days: list[dt.date]


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def replay_rules(
    specs: Sequence[RuleSpec],
    bundle: SeriesBundle,
    start: dt.date,
    end: dt.date,
    labels: dict[int, str] | None = None,
) -> Counter[WeekKey]:
    """Alerts each rule would raise per participant and ISO week between start and end."""
    counts: Counter[WeekKey] = Counter()
    days = [d for d in bundle.school_days if start <= d <= end]
    for spec in specs:
        medians = compute_group_medians(spec, bundle.windows)
        for pid, windows in bundle.windows.items():
            label = (labels or {}).get(pid, str(pid))
            for day in replay_participant(spec, windows, bundle.school_days, days, medians):
                counts[(label, iso_week(day), spec.slug)] += 1
    return counts


def replay_participant(
    spec: RuleSpec,
    windows: list[Window],
    school_days: list[dt.date],
    days: list[dt.date],
    medians: dict[object, float],
) -> list[dt.date]:
    """The days on which one participant would get a new alert from one rule."""
    prior: PriorAlert | None = None
    raised = []
    values = observed_values(spec, windows)
    for day in days:
        decision = evaluate_series(spec, windows, school_days, day, medians, prior, values)
        if decision.kind == "raise":
            end = dt.date.fromisoformat(decision.evidence["school_days"][-1])
            prior = PriorAlert(0, active=True, window_end=end)
            raised.append(day)
        elif decision.kind == "clear" and prior is not None:
            prior = PriorAlert(0, active=False, window_end=prior.window_end, closed_on=day)
    return raised


def replay_organization(
    org: Organization, start: dt.date, end: dt.date, slugs: Sequence[str] = ()
) -> Counter[WeekKey]:
    """Replay the current version of the organization's rules (dry-run ones included).

    Day rules read DailyRollup; session rules read SessionTotal (one row per class session).
    """
    rules = Rule.objects.current().filter(organization=org)
    if slugs:
        rules = rules.filter(slug__in=slugs)
    specs = [spec_of(rule) for rule in rules]
    ids = consented_participant_ids(org)
    labels = dict(Participant.objects.filter(pk__in=ids).values_list("pk", "pseudonym"))
    counts: Counter[WeekKey] = Counter()
    loaders = {WindowKind.DAY: load_daily_series, WindowKind.SESSION: load_session_series}
    for kind, load in loaders.items():
        of_kind = [s for s in specs if s.window == kind]
        if of_kind:
            bundle = load(org, lookback_start(of_kind, start), end, ids)
            counts.update(replay_rules(of_kind, bundle, start, end, labels))
    return counts


def weekdays(start: dt.date, count: int) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def generate_daily_arrays(
    participants: int, days: int, seed: int = 7, class_size: int = 25
) -> dict[str, np.ndarray]:
    """Column arrays (participant index, day index, sums, minutes) of a synthetic school.

    Each student has their own level of negative affect; 3% get a 5-day negative episode; the
    whole school has a hard day every 20 school days (a class-wide dip); 8% of student-days are
    absent and 5% are thin (under 20 observed minutes).
    """
    rng = np.random.default_rng(seed)
    p_idx = np.repeat(np.arange(participants), days)
    d_idx = np.tile(np.arange(days), participants)
    level = rng.normal(0.15, 0.04, participants).clip(0.02, 0.5)
    neg = (level[p_idx] + rng.normal(0, 0.05, p_idx.size)).clip(0, 1)
    neg[(d_idx % 20) == 13] += 0.35  # class-wide hard day
    episode = rng.random(participants) < 0.03
    ep_start = rng.integers(30, max(days - 5, 31), participants)
    in_episode = episode[p_idx] & (d_idx >= ep_start[p_idx]) & (d_idx < ep_start[p_idx] + 5)
    neg[in_episode] += 0.45
    neg = neg.clip(0, 1)
    minutes = rng.integers(30, 300, p_idx.size)
    minutes[rng.random(p_idx.size) < 0.05] = 10
    keep = rng.random(p_idx.size) >= 0.08
    n = minutes * 6
    engaged = (rng.uniform(0.6, 0.95, p_idx.size) * n).astype(np.int64)
    columns = {
        "participant": p_idx,
        "day": d_idx,
        "n": n,
        "s_sad": neg * n * 0.6,
        "s_fear": neg * n * 0.2,
        "s_angry": neg * n * 0.2,
        "s_neutral": (1 - neg) * n * 0.7,
        "s_happy": (1 - neg) * n * 0.3,
        "engaged_n": engaged,
        "engagement_known_n": n,
        "minutes": minutes,
        "classroom": p_idx // class_size,
        "episode": in_episode,
    }
    return {name: values[keep] for name, values in columns.items()}


def generate_series(participants: int, days: int, start: dt.date, seed: int = 7) -> GeneratedSeries:
    """The synthetic school of generate_daily_arrays as an in-memory SeriesBundle."""
    cols = generate_daily_arrays(participants, days, seed)
    calendar = weekdays(start, days)
    windows: dict[int, list[Window]] = {}
    episodes: dict[int, list[dt.date]] = {}
    for i in range(cols["participant"].size):
        pid, day = int(cols["participant"][i]), calendar[int(cols["day"][i])]
        sums = [float(cols[f"s_{e}"][i]) if f"s_{e}" in cols else 0.0 for e in EMOTIONS]
        totals = (float(cols["n"][i]), *sums, float(cols["engaged_n"][i]),
                  float(cols["engagement_known_n"][i]), float(cols["minutes"][i]))  # fmt: skip
        group = (("classroom", int(cols["classroom"][i]), day),)
        windows.setdefault(pid, []).append(Window(day, day.isoformat(), totals, group))
        if cols["episode"][i]:
            episodes.setdefault(pid, []).append(day)
    dips = [d for i, d in enumerate(calendar) if i % 20 == 13]
    return GeneratedSeries(SeriesBundle(calendar, windows), episodes, dips)
