"""Two-factor policy per school and hashed backup codes (issue 15).

Schools that exist now get no requirement (an empty role list), so nobody is locked out by an
upgrade; their admin turns it on (existing staff then get the grace period). The model's
default, which new schools get, is admins and counselors.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import wellbeing.models


class Migration(migrations.Migration):
    dependencies = [
        ("wellbeing", "0011_roster_source_ids"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="two_factor_grace_days",
            field=models.PositiveSmallIntegerField(
                default=14,
                help_text=(
                    "Days existing staff may still sign in without two-factor once it is required."
                ),
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="two_factor_required_since",
            field=models.JSONField(blank=True, default=dict),
        ),
        # Existing rows: [] (no requirement); then the default new schools get.
        migrations.AddField(
            model_name="organization",
            name="two_factor_roles",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="organization",
            name="two_factor_roles",
            field=models.JSONField(
                blank=True,
                default=wellbeing.models.default_two_factor_roles,
                help_text=(
                    "Staff roles that must sign in with two-factor (admin, counselor, teacher)."
                ),
            ),
        ),
        migrations.CreateModel(
            name="BackupCodeDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="The human-readable name of this device.", max_length=64
                    ),
                ),
                (
                    "confirmed",
                    models.BooleanField(default=True, help_text="Is this device ready for use?"),
                ),
                (
                    "throttling_failure_timestamp",
                    models.DateTimeField(
                        blank=True,
                        default=None,
                        help_text=(
                            "A timestamp of the last failed verification attempt. "
                            "Null if last attempt succeeded."
                        ),
                        null=True,
                    ),
                ),
                (
                    "throttling_failure_count",
                    models.PositiveIntegerField(
                        default=0, help_text="Number of successive failed attempts."
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        auto_now_add=True,
                        help_text=(
                            "The date and time when this device was initially created in the "
                            "system."
                        ),
                        null=True,
                    ),
                ),
                (
                    "last_used_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="The most recent date and time this device was used.",
                        null=True,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        help_text="The user that this device belongs to.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"abstract": False},
        ),
        migrations.CreateModel(
            name="BackupCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code_hash", models.CharField(db_index=True, max_length=64)),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="codes",
                        to="wellbeing.backupcodedevice",
                    ),
                ),
            ],
        ),
    ]
