"""Web requests and worker tasks reuse their PostgreSQL connection instead of opening one each
(wellbeing/asgi_handler.py, wellbeing/celery.py): a new connection forks a server process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.db import connection, connections

from wellbeing.asgi_handler import PooledThreadASGIHandler
from wellbeing.celery import app as celery_app
from wellbeing.celery import close_stale_database_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def persistent_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    # what production runs with (DATABASE_CONN_MAX_AGE defaults to 60 s)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)


@pytest.fixture
def web_handler() -> Iterator[PooledThreadASGIHandler]:
    """The web process's handler with two sync threads; their connections closed afterwards."""
    handler = PooledThreadASGIHandler(threads=2)
    yield handler
    for executor in handler.executors:
        # the proxy must be resolved on the sync thread: each thread has its own connection
        executor.submit(lambda: connection.close()).result(timeout=10)
        executor.shutdown()


def backend_pid_of_thread(handler: PooledThreadASGIHandler, index: int) -> int | None:
    """The PostgreSQL backend of the connection that sync thread ``index`` holds, if any."""

    def current() -> int | None:
        raw = connection.connection
        return None if raw is None else int(raw.get_backend_pid())

    return handler.executors[index].submit(current).result(timeout=10)


def post_frame_with_wrong_token(handler: PooledThreadASGIHandler) -> int:
    """One ingest request (it looks the token up in the database); its HTTP status."""

    async def request() -> Any:
        communicator = HttpCommunicator(
            handler,
            "POST",
            "/api/ingest/frames",
            body=b"x",
            headers=[(b"host", b"localhost"), (b"authorization", b"Bearer no")],
        )
        return await communicator.get_response(timeout=10)

    return int(async_to_sync(request)()["status"])


def test_sequential_web_requests_share_one_database_connection(
    persistent_connections: None, web_handler: PooledThreadASGIHandler
) -> None:
    # given the web process's handler with two sync threads
    handler = web_handler
    # when three requests that query the database arrive one after the other
    statuses = []
    pids = []
    for _ in range(3):
        statuses.append(post_frame_with_wrong_token(handler))
        pids.append(backend_pid_of_thread(handler, 0))
    # then each was answered, all on the first thread, over one and the same connection
    assert statuses == [401, 401, 401]
    assert pids[0] is not None and pids == [pids[0]] * 3
    assert backend_pid_of_thread(handler, 1) is None


def test_the_handler_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one sync thread"):
        PooledThreadASGIHandler(threads=0)


def worker_task(eager: bool = False) -> Any:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def open_backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_worker_keeps_a_healthy_connection_between_tasks(persistent_connections: None) -> None:
    # given a worker whose connection was opened for a task
    connection.close()
    pid = open_backend_pid()
    # when the task ends and the next one starts
    close_stale_database_connections(task=worker_task())
    close_stale_database_connections(task=worker_task())
    # then the next task runs on the same server process
    assert open_backend_pid() == pid


def test_a_worker_replaces_a_connection_older_than_its_max_age(
    persistent_connections: None,
) -> None:
    # given a connection past DATABASE_CONN_MAX_AGE
    connection.close()
    pid = open_backend_pid()
    connection.close_at = time.monotonic() - 1
    # when a task starts
    close_stale_database_connections(task=worker_task())
    # then it was closed, and the task gets a new one
    assert connection.connection is None
    assert open_backend_pid() != pid


def test_eager_tasks_leave_the_callers_connection_alone(persistent_connections: None) -> None:
    # given an obsolete connection of a web request that runs a task in-process
    connection.close()
    pid = open_backend_pid()
    connection.close_at = time.monotonic() - 1
    # when the eager task starts
    close_stale_database_connections(task=worker_task(eager=True))
    # then the request's connection is untouched (Django closes it at the request's end)
    assert open_backend_pid() == pid


def test_celerys_fixup_does_not_close_the_connection_after_every_task() -> None:
    # Celery's Django fix-up closes connections around every task unless this is set
    assert int(celery_app.conf.get("CELERY_DB_REUSE_MAX") or 0) >= 100
