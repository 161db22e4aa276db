from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wellbeing", "0012_two_factor_policy_backup_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="email",
            field=models.EmailField(blank=True, db_default="", default="", max_length=254),
        ),
    ]
