"""Celery app for local worker processes started by bench.localstack.

The same app as wellbeing.celery, plus a broker visibility timeout from the environment
(CELERY_VISIBILITY_TIMEOUT, seconds) so that reliability tests see an unacknowledged task
redelivered within seconds after a worker is killed. Production uses wellbeing.celery.
"""

from __future__ import annotations

import os

from wellbeing.celery import app

if os.environ.get("CELERY_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        "visibility_timeout": int(os.environ["CELERY_VISIBILITY_TIMEOUT"]),
        # kombu sweeps for expired unacked messages every interval x throttle seconds
        # (default 10 x 10): once a second here.
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

__all__ = ["app"]
