# Issue 14: CaptureDevice and ClassSession are capture's models now (capture 0007 added them to
# capture's state, on the same tables). Removed from wellbeing's state only: the tables
# wellbeing_capturedevice and wellbeing_classsession, and every row in them, stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0007_devices_and_sessions_from_wellbeing"),
        ("wellbeing", "0013_participant_email"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ClassSession"),
                migrations.DeleteModel(name="CaptureDevice"),
            ],
        ),
    ]
