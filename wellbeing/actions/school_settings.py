"""A school admin's changes to their own school's settings."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from wellbeing.actions.audit import AuditContext, record_audit
from wellbeing.models import Organization
from wellbeing.refusals import Refused

__all__ = ["SCHOOL_SETTINGS", "SchoolSettingsRefused", "update_school_settings"]


class SchoolSettingsRefused(Refused):
    """A school admin asked to change a setting that stays with the operator."""


# What a school admin may change about their school. Jurisdiction, the EU exception and the
# DPIA reference decide whether capture is lawful at all, so they stay with the operator.
SCHOOL_SETTINGS = (
    "timezone",
    "raw_observation_days",
    "minute_aggregate_days",
    "daily_rollup_days",
    "alert_days",
    "audit_days",
    "template_days_after_last_seen",
    "alert_contacts",
    "portal_shows_expression_charts",
)


def update_school_settings(ctx: AuditContext, **changes: Any) -> Organization:
    """Change the actor's own school's settings (validated by the caller); audited with values."""
    unknown = sorted(set(changes) - set(SCHOOL_SETTINGS))
    if unknown or not changes:
        raise SchoolSettingsRefused(
            f"Only these settings can be changed: {', '.join(SCHOOL_SETTINGS)}."
        )
    with transaction.atomic():
        school = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        before = {name: getattr(school, name) for name in changes}
        for name, value in changes.items():
            setattr(school, name, value)
        school.full_clean()
        school.save(update_fields=sorted(changes))
        record_audit(ctx, "school.update", target=school, before=before, after=changes)
    return school
