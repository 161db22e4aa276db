"""Classrooms move to the RFB CNN detector; hog2x is no longer offered.

Measured on hand-labelled group photos (docs/inference.md, "Detector"): RFB finds faces from
~16 px with precision 1.0 on faces of 16 px and more, and costs less per photo than HOG, whose
recall is 0 below 40 px; hog2x (2x upsampling) reached 42% at 24-40 px at 6x RFB's time. So
every classroom, whichever HOG variant it had, now runs RFB; ``hog`` stays selectable.
"""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def to_rfb(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Classroom = apps.get_model("wellbeing", "Classroom")
    Classroom.objects.filter(detector__in=["hog", "hog2x"]).update(detector="rfb")


def back_to_hog(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Classroom = apps.get_model("wellbeing", "Classroom")
    Classroom.objects.filter(detector="rfb").update(detector="hog")


class Migration(migrations.Migration):
    dependencies = [
        ("wellbeing", "0005_classroom_detector"),
    ]

    operations = [
        migrations.AlterField(
            model_name="classroom",
            name="detector",
            field=models.CharField(
                choices=[
                    ("rfb", "CNN (faces from ~16 px, back rows included)"),
                    ("hog", "Legacy HOG (faces from ~70 px only; misses back rows)"),
                ],
                default="rfb",
                help_text="Which face detector runs on this classroom's camera frames. The CNN "
                "finds faces from about 16 px (the back rows of a large room); legacy HOG only "
                "from ~70 px.",
                max_length=16,
            ),
        ),
        migrations.RunPython(to_rfb, back_to_hog),
    ]
