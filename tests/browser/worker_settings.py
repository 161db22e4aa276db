"""Settings of the daphne server when a separate Celery worker processes the frames: ingest
queues the inference task on the broker (REDIS_URL) instead of running it in the request."""

from tests.browser.daphne_settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
