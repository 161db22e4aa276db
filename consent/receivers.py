"""Consent's receivers of signals sent by the app below it (wellbeing)."""

from __future__ import annotations

from typing import Any

from consent.age_rules import default_preset
from wellbeing.models import Organization


def fill_in_consent_rules(sender: type[Organization], instance: Organization, **_: Any) -> None:
    """A new school starts with its jurisdiction's default preset, stored, so that a later
    change of jurisdiction does not change whose consent counts without a review."""
    if not instance._state.adding or instance.consent_rules_preset:
        return
    preset = default_preset(instance.jurisdiction)
    instance.consent_rules_preset = preset.key
    instance.student_consent_age = preset.student_consent_age
    instance.guardian_consent_for_biometrics = preset.guardian_for_biometrics
