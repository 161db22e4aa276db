"""Biometric retention (BIPA model): a template is destroyed when its purpose ends, i.e. when
consent ends (consent.actions) or when the participant has not been seen for the school's
``template_days_after_last_seen`` days."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from consent.actions import destroy_templates
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant


def purge_expired_templates(now: dt.datetime | None = None) -> int:
    """Destroy expired templates in every school; returns how many templates were deleted."""
    now = now or timezone.now()
    deleted = 0
    for org in Organization.objects.all():
        cutoff = now - dt.timedelta(days=org.template_days_after_last_seen)
        stale = (
            Participant.objects.filter(organization=org, face_templates__isnull=False)
            .filter(
                Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, created_at__lt=cutoff)
            )
            .distinct()
        )
        ctx = AuditContext.system(org, "retention")
        for participant in stale:
            deleted += destroy_templates(ctx, participant, reason="retention period ended")
    return deleted
