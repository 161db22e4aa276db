# Issue 16: the family portal shows expression charts only where the school turns this on.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wellbeing", "0014_devices_and_sessions_to_capture"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="portal_shows_expression_charts",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Show guardians and students the student's daily expression shares "
                "in the family portal.",
            ),
        ),
    ]
