"""Drop MinuteAggregate's single-column foreign-key indexes (organization, participant,
session): the composite indexes (organization, minute), (participant, minute) and
(session, minute) start with the same columns and serve the same lookups and cascades, while
every index costs each worker upsert that creates a minute row."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("capture", "0003_session_total")]

    operations = [
        migrations.AlterField(
            model_name="minuteaggregate",
            name="organization",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="wellbeing.organization"),
        ),
        migrations.AlterField(
            model_name="minuteaggregate",
            name="participant",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="minute_aggregates", to="wellbeing.participant"),
        ),
        migrations.AlterField(
            model_name="minuteaggregate",
            name="session",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="minute_aggregates", to="wellbeing.classsession"),
        ),
    ]  # fmt: skip
