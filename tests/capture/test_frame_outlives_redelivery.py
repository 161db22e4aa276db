"""A frame held by a worker outlives the broker's redelivery of its task (issue 15).

With acks_late, the task of a killed worker is redelivered after the broker's visibility timeout
(plus up to one restore interval). Its frame bytes wait in Redis with an expiry; if they expire
first, the redelivered task finds nothing and the frame, already acknowledged to the client with
202, is lost. So the worker extends the expiry on delivery to cover that window.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from capture import tasks
from capture.frame_store import frame_key, get_frame_store

pytestmark = pytest.mark.django_db


def broker_redelivery_s() -> int:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return int(options["visibility_timeout"]) + int(options["unacked_restore_interval"])


def test_frame_bytes_outlive_the_redelivery_of_their_task(
    redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a queued frame, with the expiry ingest gives it
    get_frame_store().put_frame("dev:1", b"jpeg bytes")
    seen_ttl: list[int] = []

    def worker_dies(frame_id: str, *_args: Any) -> str:
        # the worker is killed here: what is left is the frame's remaining lifetime in Redis
        seen_ttl.append(int(redis_client.ttl(frame_key(frame_id))))
        raise SystemExit("worker killed")

    monkeypatch.setattr(tasks, "process_frame", worker_dies)
    # when a worker takes its task and dies while holding it
    with pytest.raises(SystemExit):
        tasks.process_frame_task.run("dev:1", 1, None, 0.0)
    # then the bytes are still in Redis when the broker hands the task to another worker
    assert seen_ttl and seen_ttl[0] > broker_redelivery_s()


def test_delivery_never_shortens_a_longer_expiry(redis_client: Any) -> None:
    # given a frame whose expiry was already extended further (a database-outage retry)
    from capture.frame_store import redelivery_window_s

    store = get_frame_store()
    store.put_frame("dev:2", b"jpeg bytes")
    redis_client.expire(frame_key("dev:2"), redelivery_window_s() + 500)
    # when a worker takes it
    store.keep_frame_for("dev:2", redelivery_window_s())
    # then its expiry is not cut short
    assert int(redis_client.ttl(frame_key("dev:2"))) > redelivery_window_s() + 400
