"""SessionTotal: one row of sums per participant and class session (session-window alert rules).

The worker keeps it from now on (capture.timeseries); this migration fills it from the minute
aggregates already stored, so session rules keep their history. Portable (PostgreSQL and the
demo's SQLite): the database groups the minute rows, Python adds the local day.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Min, Sum

ADDED = ("n", "s_angry", "s_disgust", "s_fear", "s_happy", "s_neutral", "s_sad", "s_surprise",
         "engaged_n", "engagement_known_n", "quality_sum")  # fmt: skip
BATCH = 5000


def fill_from_minute_aggregates(apps: Any, schema_editor: Any) -> None:
    minute = apps.get_model("capture", "MinuteAggregate")
    total = apps.get_model("capture", "SessionTotal")
    organization = apps.get_model("wellbeing", "Organization")
    zones = {
        pk: zoneinfo.ZoneInfo(tz) for pk, tz in organization.objects.values_list("pk", "timezone")
    }
    groups = (
        minute.objects.values("organization_id", "participant_id", "session_id")
        .annotate(
            **{f"t_{c}": Sum(c) for c in ADDED},
            t_minutes=Count("id"),
            t_first=Min("minute"),
        )
        .order_by()
    )
    batch: list[Any] = []
    for g in groups.iterator(chunk_size=BATCH):
        first = g["t_first"]
        batch.append(
            total(
                organization_id=g["organization_id"],
                participant_id=g["participant_id"],
                session_id=g["session_id"],
                first_minute=first,
                day=first.astimezone(zones[g["organization_id"]]).date(),
                minutes_observed=g["t_minutes"],
                **{c: g[f"t_{c}"] for c in ADDED},
            )
        )
        if len(batch) >= BATCH:
            total.objects.bulk_create(batch)
            batch = []
    total.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0002_minute_aggregate_session_statistics"),
        ("wellbeing", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SessionTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("n", models.PositiveIntegerField(default=0, help_text="observations counted")),
                ("s_angry", models.FloatField(default=0.0)),
                ("s_disgust", models.FloatField(default=0.0)),
                ("s_fear", models.FloatField(default=0.0)),
                ("s_happy", models.FloatField(default=0.0)),
                ("s_neutral", models.FloatField(default=0.0)),
                ("s_sad", models.FloatField(default=0.0)),
                ("s_surprise", models.FloatField(default=0.0)),
                (
                    "engaged_n",
                    models.PositiveIntegerField(
                        default=0, help_text="observations judged attending"
                    ),
                ),
                ("engagement_known_n", models.PositiveIntegerField(default=0)),
                ("quality_sum", models.FloatField(default=0.0)),
                (
                    "first_minute",
                    models.DateTimeField(help_text="the participant's first minute in the session"),
                ),
                (
                    "day",
                    models.DateField(
                        help_text="local date of first_minute (organization's time zone)"
                    ),
                ),
                ("minutes_observed", models.PositiveIntegerField(default=0)),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="wellbeing.organization",
                    ),
                ),
                (
                    "participant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="session_totals",
                        to="wellbeing.participant",
                    ),
                ),
                (
                    "session",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="session_totals",
                        to="wellbeing.classsession",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["organization", "first_minute"],
                        name="capture_ses_organiz_11bc01_idx",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("participant", "session"), name="session_total_key"
                    )
                ],
            },
        ),  # fmt: skip
        migrations.RunPython(fill_from_minute_aggregates, migrations.RunPython.noop),
    ]
