"""``manage.py replay_alerts``: what the rules would have raised, per student and week."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.defaults import DEFAULT_RULES
from alerts.replay import WeekKey, generate_series, replay_organization, replay_rules
from alerts.rules import RuleSpec, RuleSpecError
from wellbeing.models import Organization


class Command(BaseCommand):
    help = (
        "Dry run: replay alert rules over stored series (--org) or a generated school "
        "(--generate N) and print alerts per student per ISO week. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (stored DailyRollup series)")
        parser.add_argument("--rule", action="append", default=[], help="rule slug (repeatable)")
        parser.add_argument("--start", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument(
            "--end", type=dt.date.fromisoformat, help="last day (YYYY-MM-DD; default: school today)"
        )
        parser.add_argument("--generate", type=int, metavar="N", help="generate N students")
        parser.add_argument("--days", type=int, default=60, help="generated school days")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **opts: Any) -> None:
        if bool(opts["org"]) == bool(opts["generate"]):
            raise CommandError("Give either --org SLUG or --generate N.")
        counts = self.replay_generated(opts) if opts["generate"] else self.replay_stored(opts)
        self.print_counts(counts)

    def replay_stored(self, opts: dict[str, Any]) -> Counter[WeekKey]:
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"No organization with slug {opts['org']!r}.")
        end = opts["end"] or org.local_today()
        start = opts["start"] or end - dt.timedelta(weeks=8)
        if start > end:
            raise CommandError("--start must not be after --end.")
        return replay_organization(org, start, end, opts["rule"])

    def replay_generated(self, opts: dict[str, Any]) -> Counter[WeekKey]:
        if not 1 <= opts["generate"] <= 20_000 or not 10 <= opts["days"] <= 400:
            raise CommandError("--generate takes 1..20000 students and --days 10..400.")
        start = opts["start"] or dt.date(2026, 1, 5)
        generated = generate_series(opts["generate"], opts["days"], start, opts["seed"])
        chosen = opts["rule"] or list(DEFAULT_RULES)
        unknown = set(chosen) - set(DEFAULT_RULES)
        if unknown:
            raise CommandError(f"Unknown default rules: {', '.join(sorted(unknown))}.")
        try:
            specs = [default_spec(slug) for slug in chosen]
        except RuleSpecError as exc:
            raise CommandError(str(exc)) from exc
        days = generated.bundle.school_days
        self.stdout.write(
            f"generated {opts['generate']} students x {opts['days']} school days; "
            f"{len(generated.episodes)} with a planted 5-day episode"
        )
        return replay_rules(specs, generated.bundle, days[0], days[-1])

    def print_counts(self, counts: Counter[WeekKey]) -> None:
        self.stdout.write(f"{'student':<14} {'week':<9} {'rule':<26} alerts")
        for (label, week, slug), count in sorted(counts.items()):
            self.stdout.write(f"{label:<14} {week:<9} {slug:<26} {count}")
        students = len({label for label, _, _ in counts})
        self.stdout.write(f"total: {sum(counts.values())} alerts for {students} students")


def default_spec(slug: str) -> RuleSpec:
    fields = {
        k: v for k, v in DEFAULT_RULES[slug].items() if k not in ("name", "description", "mode")
    }
    return RuleSpec(rule_id=0, slug=slug, version=0, **fields)
