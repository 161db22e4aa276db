"""Signals the capture app sends; apps above it (alerts) connect to them.

``session_ended`` is sent once per class session, inside the transaction that marks it ended,
with ``session`` (the ClassSession). Receivers that start work reading the session's data must
defer it to ``transaction.on_commit``. capture sends it instead of calling alerts, so capture
never imports an app above it (docs/architecture.md).
"""

from django.dispatch import Signal

session_ended = Signal()
