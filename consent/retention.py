"""Biometric retention (BIPA model): a template is destroyed when its purpose ends, i.e. when
consent ends (consent.actions) or when the participant's last interaction is older than the
school's ``template_days_after_last_seen`` days.

The last interaction is the later of the participant's last sighting by a camera and their
latest enrollment: a template enrolled last week for a student the cameras have not seen yet is
not expired, however old the student's record is.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Q
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
            .annotate(enrolled_at=Max("face_templates__created_at"))
            .filter(enrolled_at__lt=cutoff)
            .filter(Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True))
        )
        ctx = AuditContext.system(org, "retention")
        for participant in stale:
            deleted += destroy_templates(ctx, participant, reason="retention period ended")
    return deleted
