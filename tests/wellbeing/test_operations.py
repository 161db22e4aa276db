"""Operational entry points: deploy checks, demo seeding, retention of templates."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from django.utils import timezone

from capture.demo import seed_demo_school
from consent.models import FaceTemplate
from consent.retention import purge_expired_templates
from consent.template_crypto import encrypt_embedding
from wellbeing.models import Organization, Participant

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_env() -> None:
    # given a production-like environment
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "wellbeing.settings",
        "DEBUG": "false",
        "SECRET_KEY": "k3y-" + "x7Qp9vLm2Rt8Zw4Yb6Nc1Hd5Jf0Gs3Ka" * 2,
        "ALLOWED_HOSTS": "wellbeing.example.org",
        "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
        "FACE_TEMPLATE_KEY": "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=",
    }
    # when Django's deployment checks run
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then there is no warning at all
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr and "System check identified no issues" in result.stdout


def test_seed_demo_creates_a_consented_school_once(db: Any, tmp_path: Path) -> None:
    # given no shared photos (a user's machine), the demo still seeds a school
    summary = seed_demo_school(tmp_path)
    assert summary.created and len(summary.participants) == 3 and summary.device_token
    org = Organization.objects.get(slug="demo-academy")
    assert org.participants.count() == 3
    # a second run changes nothing
    assert seed_demo_school(tmp_path).created is False
    assert Organization.objects.filter(slug="demo-academy").count() == 1


def test_expired_templates_are_purged(student: Participant) -> None:
    # given a template enrolled 500 days ago of a student last seen 400 days ago (school keeps
    # them 365 days after the last interaction)
    template = FaceTemplate.objects.create(
        participant=student, ciphertext=encrypt_embedding(np.ones(128)), embedder="t"
    )
    FaceTemplate.objects.filter(pk=template.pk).update(
        created_at=timezone.now() - dt.timedelta(days=500)
    )
    student.last_seen_at = timezone.now() - dt.timedelta(days=400)
    student.save()
    # when the nightly purge runs, then the template is gone
    assert purge_expired_templates() == 1
    assert not FaceTemplate.objects.exists()


def test_recent_templates_are_kept(student: Participant) -> None:
    FaceTemplate.objects.create(
        participant=student, ciphertext=encrypt_embedding(np.ones(128)), embedder="t"
    )
    student.last_seen_at = timezone.now() - dt.timedelta(days=3)
    student.save()
    assert purge_expired_templates() == 0
    assert FaceTemplate.objects.count() == 1


def test_every_model_is_in_django_admin() -> None:
    from django.apps import apps
    from django.contrib import admin

    inline_only = {"alerts.AlertEvent"}  # shown inside its alert's admin page
    ours = {"wellbeing", "consent", "capture", "privacy", "alerts"}
    missing = [
        m._meta.label
        for m in apps.get_models()
        if m._meta.app_label in ours
        and m._meta.label not in inline_only
        and not admin.site.is_registered(m)
    ]
    assert missing == []
