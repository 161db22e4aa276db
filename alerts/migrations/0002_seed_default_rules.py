"""Seed the default alert rules and alert policy of organizations that existed before.

The rule numbers are a frozen copy of alerts.defaults at the time of this migration, so later
changes to the defaults do not rewrite history.
"""

from django.db import migrations

DEFAULT_RULES_V1 = {
    "sustained-negative": {
        "name": "Sustained negative affect",
        "description": "Negative-affect share well above the student's own baseline and the "
        "class on at least 3 of the last 5 school days.",
        "signal": "negative_share",
        "threshold": 0.45,
        "clear_threshold": 0.35,
        "baseline_weeks": 4,
        "baseline_margin": 0.10,
        "class_margin": 0.10,
        "min_minutes": 20,
        "persistence_m": 3,
        "persistence_d": 5,
        "clear_after_days": 3,
        "cooldown_days": 14,
        "severity": "notify",
        "mode": "active",
    },
    "persistent-high-negative": {
        "name": "Persistently very high negative affect",
        "description": "Very high negative-affect share on 4 of the last 5 school days.",
        "signal": "negative_share",
        "threshold": 0.60,
        "clear_threshold": 0.45,
        "baseline_weeks": 4,
        "baseline_margin": 0.15,
        "class_margin": 0.15,
        "min_minutes": 30,
        "persistence_m": 4,
        "persistence_d": 5,
        "clear_after_days": 3,
        "cooldown_days": 14,
        "severity": "urgent",
        "mode": "dry_run",
    },
    "sadness": {
        "name": "Sadness above usual",
        "description": "Share of sad expressions above the student's baseline and the class.",
        "signal": "emotion_share",
        "emotion": "sad",
        "threshold": 0.30,
        "clear_threshold": 0.22,
        "baseline_weeks": 4,
        "baseline_margin": 0.10,
        "class_margin": 0.10,
        "min_minutes": 20,
        "persistence_m": 3,
        "persistence_d": 5,
        "clear_after_days": 3,
        "cooldown_days": 14,
        "severity": "watch",
        "mode": "dry_run",
    },
    "engagement-drop": {
        "name": "Engagement drop",
        "description": "Attending share far below the student's own baseline and the class.",
        "signal": "engagement_drop",
        "threshold": 0.55,
        "clear_threshold": 0.40,
        "baseline_weeks": 4,
        "baseline_margin": 0.20,
        "class_margin": 0.15,
        "min_minutes": 20,
        "persistence_m": 3,
        "persistence_d": 5,
        "clear_after_days": 3,
        "cooldown_days": 14,
        "severity": "watch",
        "mode": "dry_run",
    },
}


def seed(apps, schema_editor):
    Organization = apps.get_model("wellbeing", "Organization")
    Rule = apps.get_model("alerts", "Rule")
    AlertPolicy = apps.get_model("alerts", "AlertPolicy")
    for org in Organization.objects.all():
        AlertPolicy.objects.get_or_create(organization=org)
        existing = set(Rule.objects.filter(organization=org).values_list("slug", flat=True))
        Rule.objects.bulk_create(
            Rule(organization=org, slug=slug, **fields)
            for slug, fields in DEFAULT_RULES_V1.items()
            if slug not in existing
        )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial"), ("wellbeing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
