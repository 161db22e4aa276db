"""Signals consent sends; the apps above it (capture, alerts, privacy) connect to them.

consent never imports those apps (docs/architecture.md): it announces, they act or answer.

``consent_revoked`` is sent (inside the withdrawing transaction) with ``participant`` and
``scopes`` (the scopes that stopped being active) and ``ctx`` (the AuditContext of the
change, for receivers' own audit events). Receivers must act at once: the pipeline
drops cached templates, alerts close open alerts, privacy deletes or de-identifies data.

``publication_effects_counted`` is sent, changing nothing, before a new notice version is
published (consent.notice_publication) or a change of consent rules or of a student's age is
reviewed (consent.rule_changes), with ``organization`` and ``participant_ids`` (the
participants whose emotion-analysis consent would lapse). Each receiver returns a dict of the
figures its app would delete or close for them (PublicationEffects field names): capture the
stored numbers, alerts the open alerts.
"""

from django.dispatch import Signal

consent_revoked = Signal()
publication_effects_counted = Signal()
