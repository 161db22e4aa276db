"""The one Celery app. Queues, routes and the beat schedule live in settings (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wellbeing.settings")

app = Celery("wellbeing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_stale_database_connections(task: Any = None, **_: Any) -> None:
    """Around every task, what Django does around every web request: close a connection that
    is older than DATABASE_CONN_MAX_AGE or has failed, keep a healthy one.

    Workers reuse connections (settings.CELERY_DB_REUSE_MAX) instead of opening one per task;
    with DATABASE_CONN_MAX_AGE=0 this closes after every task, as before. Not for eager tasks
    (they run inside the caller's request or transaction, as the fix-up's closing does not).
    """
    from django.db import close_old_connections

    if task is None or getattr(task.request, "is_eager", False):
        return

    close_old_connections()
