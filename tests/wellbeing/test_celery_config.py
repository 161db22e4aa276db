"""The Celery app: named queues, late acknowledgement, prefetch 1, a beat schedule that runs."""

from __future__ import annotations

import pytest
from celery import Celery

from wellbeing.celery import app as celery_app

QUEUES = {"inference", "alerts", "maintenance"}


@pytest.fixture(scope="module")
def app() -> Celery:
    celery_app.loader.import_default_modules()  # what a worker does at start
    return celery_app


def _our_tasks(app: Celery) -> list[str]:
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_named_queues_acks_late_and_prefetch_one(app: Celery) -> None:
    assert {queue.name for queue in app.conf.task_queues} == QUEUES
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_every_beat_entry_names_a_registered_task(app: Celery) -> None:
    # a typo in the schedule would otherwise never run and never fail
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled and sorted(scheduled - set(app.tasks)) == []


@pytest.mark.parametrize(
    ("prefix", "queue"),
    [
        ("capture.", "inference"),
        ("alerts.", "alerts"),
        ("consent.", "maintenance"),
        ("privacy.", "maintenance"),
    ],
)
def test_each_task_is_routed_to_its_named_queue(app: Celery, prefix: str, queue: str) -> None:
    tasks = [name for name in _our_tasks(app) if name.startswith(prefix)]
    assert tasks, f"no {prefix} tasks registered"
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in tasks}
    assert routed == dict.fromkeys(tasks, queue)
