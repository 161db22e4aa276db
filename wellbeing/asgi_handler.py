"""Django's ASGI handler on a fixed pool of sync threads, so database connections are reused.

Django's own ``ASGIHandler`` runs each request's sync code (middleware, views, signals) on a
thread made for that request and thrown away after it (``ThreadSensitiveContext()``). Database
connections are per thread, so every HTTP request opened a new PostgreSQL connection (a backend
process forked, authenticated and warmed up: ~4 ms of server CPU) and left it to the garbage
collector: measured under ``make bench-pipeline``, two new connections per ingested frame.

``PooledThreadASGIHandler`` gives each request one of ``threads`` long-lived single-thread
executors instead (asgiref's caller-owned ``ThreadSensitiveContext(executor=...)``): the
least busy one, so a slow page does not hold up the frames behind it while another thread is
free. A request's sync code still runs on one thread, as Django requires; each thread keeps its
connection for ``DATABASE_CONN_MAX_AGE`` seconds and Django's request signals close it when it
is older or has failed, exactly as under WSGI. Concurrency is bounded by ``threads`` (the sync
requests served at once), and so is the number of database connections a web process holds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class PooledThreadASGIHandler(ASGIHandler):
    """ASGIHandler whose requests run on ``threads`` persistent sync threads (module doc)."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"the web process needs at least one sync thread, not {threads}")
        super().__init__()
        self.executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}")
            for i in range(threads)
        ]
        self.in_flight = [0] * threads

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # One event loop: choosing and counting need no lock.
        index = min(range(len(self.in_flight)), key=self.in_flight.__getitem__)
        self.in_flight[index] += 1
        try:
            async with ThreadSensitiveContext(executor=self.executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self.in_flight[index] -= 1


def get_pooled_asgi_application(threads: int) -> PooledThreadASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the pooled handler."""
    import django

    django.setup(set_prefix=False)
    return PooledThreadASGIHandler(threads)
