"""Nightly purge of expired data, per school, in small batches.

Each batch deletes at most ``batch_size`` rows by primary key in its own short transaction, so
the purge never holds long locks on tables the workers are writing to.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from wellbeing.models import Organization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeSpec:
    """Rows of a school (reached via any of ``org_fields``) whose ``date_field`` is older than
    the school's retention period ``days_attr``."""

    label: str
    org_fields: tuple[str, ...]
    date_field: str
    days_attr: str
    is_date: bool = False


ORG = ("organization",)
SPECS: tuple[PurgeSpec, ...] = (
    PurgeSpec("capture.observation", ORG, "captured_at", "raw_observation_days"),
    PurgeSpec(
        "capture.processedframe",
        ("session__classroom__organization", "session__participant__organization"),
        "processed_at",
        "raw_observation_days",
    ),
    PurgeSpec("capture.minuteaggregate", ORG, "minute", "minute_aggregate_days"),
    # A lesson's totals are kept as long as its minute rows (they are their sums).
    PurgeSpec("capture.sessiontotal", ORG, "first_minute", "minute_aggregate_days"),
    # "Present, not assessable" in a lesson: per-lesson data like the totals, kept as long.
    PurgeSpec("capture.presencetally", ORG, "first_seen", "minute_aggregate_days"),
    PurgeSpec("capture.dailyrollup", ORG, "day", "daily_rollup_days", is_date=True),
    PurgeSpec("privacy.deidentifieddailytotal", ORG, "day", "daily_rollup_days", is_date=True),
    PurgeSpec("alerts.alert", ORG, "raised_at", "alert_days"),
    PurgeSpec("wellbeing.auditevent", ORG, "created_at", "audit_days"),
)


def _cutoff(spec: PurgeSpec, org: Organization, now: dt.datetime) -> dt.datetime | dt.date:
    moment = now - dt.timedelta(days=getattr(org, spec.days_attr))
    return timezone.localtime(moment).date() if spec.is_date else moment


def delete_in_batches(queryset: models.QuerySet[models.Model], batch_size: int) -> int:
    """Delete rows of ``queryset`` in pk batches; returns rows deleted (cascades included)."""
    total = 0
    model = queryset.model
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            total += model._default_manager.filter(pk__in=ids).delete()[0]


def _model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def purge_expired_data(
    now: dt.datetime | None = None,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Purge every kind of data past its school's retention period; returns rows per model."""
    now = now or timezone.now()
    removed: dict[str, int] = {}
    for spec in SPECS:
        model = _model(spec.label)
        if model is None or not _has_field(model, spec.date_field):
            continue
        started = time.monotonic()
        count = 0
        for org in Organization.objects.all():
            of_org = Q()
            for path in spec.org_fields:
                of_org |= Q(**{path: org})
            old = model._default_manager.filter(of_org).filter(
                **{f"{spec.date_field}__lt": _cutoff(spec, org, now)}
            )
            count += delete_in_batches(old, batch_size)
        removed[spec.label] = count
        log.info(
            "retention purge %s: %d rows in %.2f s", spec.label, count, time.monotonic() - started
        )
        if progress:
            progress(spec.label, count)
    return removed


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(field.name == name for field in model._meta.concrete_fields)
