"""`check --deploy` warns about a missing, malformed or public face-template key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.test import override_settings

from consent.checks import DEMO_TEMPLATE_KEY


def _deploy_warning_ids() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True) if m.id}


@pytest.mark.parametrize(
    ("key", "warning"),
    [
        ("", "wellbeing.W001"),
        ("not-a-fernet-key", "wellbeing.W001"),
        (DEMO_TEMPLATE_KEY, "wellbeing.W002"),
        (f"{Fernet.generate_key().decode()},{DEMO_TEMPLATE_KEY}", "wellbeing.W002"),
    ],
)
def test_unusable_or_public_key_is_a_deploy_warning(key: str, warning: str) -> None:
    # given a production settings module whose face-template key is unusable or public
    with override_settings(FACE_TEMPLATE_KEY=key):
        # when the deployment checks run, then they name the problem
        assert warning in _deploy_warning_ids()


def test_private_key_passes() -> None:
    with override_settings(FACE_TEMPLATE_KEY=Fernet.generate_key().decode()):
        ids = _deploy_warning_ids()
    assert not ids & {"wellbeing.W001", "wellbeing.W002"}


def test_plain_check_does_not_run_deploy_checks() -> None:
    # the demo (no key in the environment) must still pass `manage.py check`
    with override_settings(FACE_TEMPLATE_KEY=""):
        assert "wellbeing.W001" not in {m.id for m in run_checks()}
