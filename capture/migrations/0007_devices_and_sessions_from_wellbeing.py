# Issue 14: CaptureDevice and ClassSession (with SessionStatus) become capture's models. Only
# Django's idea of where they live changes: they keep their tables (wellbeing_capturedevice,
# wellbeing_classsession), columns, constraints and index, so no row is copied and nothing is
# locked. This migration adds them to capture's state and points capture's foreign keys at them;
# wellbeing 0014 then removes them from wellbeing's state. Their content types are renamed
# (wellbeing -> capture) so operators' permissions and the admin's history stay attached.

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("capturedevice", "classsession")


def rename_content_types(apps, schema_editor, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    types = content_type.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        # On a new database the types are made after the migrations (post_migrate): none yet.
        if not types.filter(app_label=new, model=model).exists():
            types.filter(app_label=old, model=model).update(app_label=new)
    content_type.objects.clear_cache()


def to_capture(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, "wellbeing", "capture")


def to_wellbeing(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, "capture", "wellbeing")


def session_fk(related_name: str, **options) -> models.ForeignKey:
    return models.ForeignKey(
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="capture.classsession",
        **options,
    )


ONE_OWNER = models.Q(
    models.Q(("classroom__isnull", False), ("participant__isnull", True)),
    models.Q(("classroom__isnull", True), ("participant__isnull", False)),
    _connector="OR",
)


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0006_presence_tally"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wellbeing", "0012_two_factor_policy_backup_codes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="CaptureDevice",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=120)),
                        ("token_prefix", models.CharField(db_index=True, max_length=12)),
                        ("token_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("rotated_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_seen_at", models.DateTimeField(blank=True, null=True)),
                        ("classroom", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="devices", to="wellbeing.classroom")),
                        ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="devices", to="wellbeing.organization")),
                        ("participant", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="devices", to="wellbeing.participant")),
                    ],
                    options={
                        "db_table": "wellbeing_capturedevice",
                        "constraints": [
                            models.CheckConstraint(condition=ONE_OWNER, name="device_classroom_or_participant"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ClassSession",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("title", models.CharField(blank=True, max_length=200)),
                        ("status", models.CharField(choices=[("scheduled", "Scheduled"), ("running", "Running"), ("ended", "Ended")], default="scheduled", max_length=16)),
                        ("scheduled_start", models.DateTimeField(blank=True, null=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        ("unknown_faces", models.PositiveIntegerField(default=0)),
                        ("not_assessable_faces", models.PositiveIntegerField(default=0)),
                        ("frames_processed", models.PositiveIntegerField(default=0)),
                        ("frames_dropped", models.PositiveIntegerField(default=0)),
                        ("classroom", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="sessions", to="wellbeing.classroom")),
                        ("device", models.ForeignKey(blank=True, help_text="the device that started the session", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="sessions", to="capture.capturedevice")),
                        ("participant", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="sessions", to="wellbeing.participant")),
                    ],
                    options={
                        "db_table": "wellbeing_classsession",
                        "indexes": [
                            models.Index(fields=["classroom", "status"], name="wellbeing_c_classro_7ed6b7_idx"),
                        ],
                        "constraints": [
                            models.CheckConstraint(condition=ONE_OWNER, name="session_classroom_or_participant"),
                        ],
                    },
                ),
                migrations.AlterField(
                    model_name="minuteaggregate",
                    name="session",
                    field=session_fk("minute_aggregates", db_index=False),
                ),
                migrations.AlterField(
                    model_name="observation", name="session", field=session_fk("observations")
                ),
                migrations.AlterField(
                    model_name="presencetally",
                    name="session",
                    field=session_fk("presence_tallies"),
                ),
                migrations.AlterField(
                    model_name="processedframe", name="session", field=session_fk("frames")
                ),
                migrations.AlterField(
                    model_name="sessiontotal",
                    name="session",
                    field=session_fk("session_totals"),
                ),
            ],
        ),
        migrations.RunPython(to_capture, to_wellbeing),
    ]
