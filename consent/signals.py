"""Signals other apps connect to when a participant's consent changes.

``consent_revoked`` is sent (inside the withdrawing transaction) with ``participant`` and
``scopes`` (the scopes that stopped being active) and ``ctx`` (the AuditContext of the
change, for receivers' own audit events). Receivers must act at once: the pipeline
drops cached templates, alerts close open alerts, privacy deletes or de-identifies data.
"""

from django.dispatch import Signal

consent_revoked = Signal()
