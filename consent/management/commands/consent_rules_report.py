from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.age_rules import LEGACY, PRESETS, AgeRules, default_preset
from consent.rule_changes import rules_change_effects
from wellbeing.models import Organization


class Command(BaseCommand):
    help = (
        "Report, changing nothing, whose consent a change of consent rules would end or start: "
        "for every school still on the legacy rules (or --school), the change to its "
        "jurisdiction's default preset (or --preset). Adopt it on the consent rules page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--school", help="the school's slug (default: every legacy school)")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="the preset to compare")

    def handle(self, *args: Any, **options: Any) -> None:
        schools = Organization.objects.order_by("slug")
        if options["school"]:
            schools = schools.filter(slug=options["school"])
            if not schools.exists():
                raise CommandError(f"No school with the slug {options['school']!r}.")
        else:
            schools = schools.filter(consent_rules_preset=LEGACY)
        for school in schools:
            preset = PRESETS[options["preset"]] if options["preset"] else None
            rules = AgeRules.from_preset(preset or default_preset(school.jurisdiction))
            effects = rules_change_effects(school, rules)
            self.stdout.write(f"{school.slug}: {effects.summary()}")
            for change in effects.changes:
                lost = f" loses {', '.join(change.lost)}" if change.lost else ""
                gained = f" gains {', '.join(change.gained)}" if change.gained else ""
                why = "; ".join(sorted(set(change.reasons.values())))
                self.stdout.write(f"  {change.pseudonym}{lost}{gained}{f' ({why})' if why else ''}")
