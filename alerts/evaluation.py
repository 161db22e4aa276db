"""Evaluating an organization's rules: load (few queries), decide (pure), write (bulk).

Idempotent: the organization row is locked for the duration, prior alerts are read under the
lock, and a partial unique constraint (one active alert per participant and rule) backs it up,
so evaluating twice never raises twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import ACTIVE_STATES, Alert, AlertEvent, Rule, RuleMode, WindowKind
from alerts.notifications import plan_raise_deliveries, queue_deliveries
from alerts.rules import (
    Decision,
    PriorAlert,
    RuleSpec,
    compute_group_medians,
    evaluate_series,
    recent_school_days,
)
from alerts.series import (
    SeriesBundle,
    classmates_of,
    consented_participant_ids,
    load_daily_series,
    load_session_series,
)
from wellbeing.models import Organization


@dataclass
class EvaluationReport:
    """What one evaluation did (ids of the alerts raised and cleared)."""

    organization_id: int
    as_of: dt.date
    participants: int = 0
    rules: int = 0
    windows: int = 0
    raised: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    would_raise: list[tuple[int, str]] = field(default_factory=list)


def spec_of(rule: Rule) -> RuleSpec:
    """The frozen numbers of a rule version (raises RuleSpecError when inconsistent)."""
    return RuleSpec(
        rule_id=rule.pk,
        slug=rule.slug,
        version=rule.version,
        signal=rule.signal,
        emotion=rule.emotion,
        window=rule.window,
        threshold=rule.threshold,
        clear_threshold=rule.clear_threshold,
        baseline_weeks=rule.baseline_weeks,
        baseline_margin=rule.baseline_margin,
        class_margin=rule.class_margin,
        min_minutes=rule.min_minutes,
        persistence_m=rule.persistence_m,
        persistence_d=rule.persistence_d,
        clear_after_days=rule.clear_after_days,
        cooldown_days=rule.cooldown_days,
        severity=rule.severity,
    )


def lookback_start(specs: Sequence[RuleSpec], as_of: dt.date) -> dt.date:
    """First day to load: baseline weeks plus the persistence window (2 calendar days per
    school day covers weekends and short breaks)."""
    weeks = max(s.baseline_weeks for s in specs)
    days = max(max(s.persistence_d, s.clear_after_days) for s in specs)
    return as_of - dt.timedelta(weeks=weeks, days=2 * days + 7)


def load_priors(
    org: Organization, slugs: Collection[str], as_of: dt.date, horizon_days: int
) -> dict[tuple[int, str], PriorAlert]:
    """Latest alert per (participant, rule family): active ones, or recent closed ones."""
    since = as_of - dt.timedelta(days=horizon_days)
    recent_or_active = Q(window_end__gte=since) | Q(state__in=ACTIVE_STATES)
    rows = (
        Alert.objects.filter(recent_or_active, organization=org, rule_slug__in=list(slugs))
        .order_by("raised_at", "pk")
        .values_list(
            "pk", "participant_id", "rule_slug", "state", "window_end", "cleared_at", "closed_at"
        )
    )
    priors: dict[tuple[int, str], PriorAlert] = {}
    for pk, pid, slug, state, window_end, cleared_at, closed_at in rows:
        priors[(pid, slug)] = PriorAlert(
            alert_id=pk,
            active=state in ACTIVE_STATES,
            window_end=window_end,
            cleared=cleared_at is not None,
            closed_on=org.local_date(closed_at) if closed_at else None,
        )
    return priors


def load_bundles(
    org: Organization, specs: Sequence[RuleSpec], as_of: dt.date, load_ids: Collection[int]
) -> dict[str, SeriesBundle]:
    start = lookback_start(specs, as_of)
    bundles: dict[str, SeriesBundle] = {}
    if any(s.window == WindowKind.DAY for s in specs):
        bundles[WindowKind.DAY] = load_daily_series(org, start, as_of, load_ids)
    if any(s.window == WindowKind.SESSION for s in specs):
        bundles[WindowKind.SESSION] = load_session_series(org, start, as_of, load_ids)
    return bundles


def decide_all(
    specs: Sequence[RuleSpec],
    bundles: dict[str, SeriesBundle],
    targets: Collection[int],
    as_of: dt.date,
    priors: dict[tuple[int, str], PriorAlert],
) -> list[tuple[RuleSpec, int, Decision]]:
    """Pure: every (rule, participant) decision that is not "none"."""
    out = []
    for spec in specs:
        bundle = bundles[spec.window]
        # Decisions compare only windows of the last persistence_d school days with the class,
        # and most need no other values (evaluate_series computes what it needs).
        judged = set(recent_school_days(bundle.school_days, as_of, spec.persistence_d))
        medians = compute_group_medians(spec, bundle.windows, days=judged)
        for pid in sorted(targets):
            windows = bundle.windows.get(pid, [])
            prior = priors.get((pid, spec.slug))
            decision = evaluate_series(spec, windows, bundle.school_days, as_of, medians, prior)
            if decision.kind != "none":
                out.append((spec, pid, decision))
    return out


def load_and_decide(
    org: Organization,
    specs: Sequence[RuleSpec],
    as_of: dt.date,
    load_ids: Collection[int],
    targets: Collection[int],
    priors: dict[tuple[int, str], PriorAlert],
) -> tuple[list[tuple[RuleSpec, int, Decision]], int]:
    """The decisions and the number of windows read; the windows are freed on return."""
    bundles = load_bundles(org, specs, as_of, load_ids)
    decisions = decide_all(specs, bundles, targets, as_of, priors)
    return decisions, sum(b.rows for b in bundles.values())


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a school is loaded and judged.

    That builds ~10^6 small tuples (windows), and the collector, triggered every 700
    allocations, kept rescanning them: a third of the session-window load time at 10,000
    students. Reference counting still frees everything; collection resumes afterwards (free
    the windows inside the block, or the first collection after it scans them all once).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def evaluate_organization(
    org: Organization,
    *,
    as_of: dt.date | None = None,
    participant_ids: Collection[int] | None = None,
    rules: Sequence[Rule] | None = None,
    write: bool = True,
    now: dt.datetime | None = None,
) -> EvaluationReport:
    """Evaluate the organization's active rules at ``as_of`` (default: today, local time).

    ``participant_ids`` limits who is judged (their classmates are still loaded for the class
    median). With ``write=False`` nothing is stored and ``would_raise`` lists what would fire.
    Only participants with active emotion_analysis consent are ever judged.
    """
    now = now or timezone.now()
    as_of = as_of or org.local_today(now)
    if rules is None:
        rules = list(Rule.objects.current().filter(organization=org, mode=RuleMode.ACTIVE))
    report = EvaluationReport(org.pk, as_of, rules=len(rules))
    if not rules:
        return report
    specs = [spec_of(rule) for rule in rules]
    with transaction.atomic():
        # Serialises evaluations of one organization: priors are read under this lock.
        Organization.objects.select_for_update().filter(pk=org.pk).first()
        consented = consented_participant_ids(org)
        if participant_ids is None:
            targets, load_ids = consented, consented
        else:
            targets = consented & set(participant_ids)
            load_ids = consented & classmates_of(org, targets)
        horizon = max(s.cooldown_days + 3 * s.persistence_d for s in specs) + 31
        priors = load_priors(org, [s.slug for s in specs], as_of, horizon)
        with cycle_collection_paused():
            decisions, report.windows = load_and_decide(
                org, specs, as_of, load_ids, targets, priors
            )
        report.participants = len(targets)
        if write:
            apply_decisions(org, rules, decisions, priors, now, report)
        else:
            report.would_raise = [(pid, s.slug) for s, pid, d in decisions if d.kind == "raise"]
    return report


def apply_decisions(
    org: Organization,
    rules: Sequence[Rule],
    decisions: list[tuple[RuleSpec, int, Decision]],
    priors: dict[tuple[int, str], PriorAlert],
    now: dt.datetime,
    report: EvaluationReport,
) -> None:
    """Store raises and clears with their history events; plan e-mails after commit."""
    by_id = {rule.pk: rule for rule in rules}
    new = [
        Alert(
            organization=org,
            participant_id=pid,
            rule=by_id[spec.rule_id],
            rule_slug=spec.slug,
            severity=spec.severity,
            evidence=decision.evidence,
            window_start=dt.date.fromisoformat(decision.evidence["school_days"][0]),
            window_end=dt.date.fromisoformat(decision.evidence["school_days"][-1]),
            raised_at=now,
        )
        for spec, pid, decision in decisions
        if decision.kind == "raise"
    ]
    Alert.objects.bulk_create(new)
    events = AlertEvent.objects.bulk_create(
        AlertEvent(alert=a, kind="raised", note=a.evidence["summary"], created_at=now) for a in new
    )
    cleared = [(priors[(pid, s.slug)].alert_id, d) for s, pid, d in decisions if d.kind == "clear"]
    for alert_id, _ in cleared:
        Alert.objects.filter(pk=alert_id, cleared_at=None).update(cleared_at=now)
    AlertEvent.objects.bulk_create(
        AlertEvent(
            alert_id=alert_id,
            kind="cleared",
            note=decision.reason,
            detail=decision.evidence,
            created_at=now,
        )
        for alert_id, decision in cleared
    )
    deliveries = plan_raise_deliveries(org, list(zip(new, events, strict=True)), now)
    transaction.on_commit(lambda: queue_deliveries(deliveries))
    report.raised = [a.pk for a in new]
    report.cleared = [alert_id for alert_id, _ in cleared]
