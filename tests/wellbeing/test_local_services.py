"""The test command on a fresh machine: throwaway PostgreSQL/Redis when none is usable.

These start real private servers (initdb + pg_ctl, redis-server) on free ports; they stop when
the test process exits.
"""

from __future__ import annotations

import os

import psycopg2
import pytest
import redis

from tests import local_services
from tests.local_services import ensure_services, free_port, postgres_accepts


def _usable(database_url: str, redis_url: str) -> bool:
    with redis.Redis.from_url(redis_url, socket_connect_timeout=3) as client:
        client.ping()
    return postgres_accepts(database_url)


def test_dead_ports_get_throwaway_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # given configured servers that do not answer
    dead_db = f"postgres://postgres@127.0.0.1:{free_port()}/wellbeing"
    dead_redis = f"redis://127.0.0.1:{free_port()}/14"
    monkeypatch.setenv("DATABASE_URL", dead_db)
    monkeypatch.setenv("REDIS_URL", dead_redis)
    # when the test settings make sure of their services
    ensure_services()
    # then both URLs point at fresh private servers that work
    db_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    assert db_url != dead_db and redis_url != dead_redis
    assert _usable(db_url, redis_url)


def test_default_server_that_refuses_us_gets_a_throwaway(monkeypatch: pytest.MonkeyPatch) -> None:
    # given no DATABASE_URL and a server on the default port that refuses the default login
    # (stock Debian: scram-sha-256 for TCP), imitated with a role that does not exist
    refused = "postgres://no_such_role_aud@127.0.0.1:5432/wellbeing"
    assert local_services.port_answers("127.0.0.1", 5432) and not postgres_accepts(refused)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(local_services, "DEFAULT_DATABASE_URL", refused)
    # when the test settings make sure of their services
    ensure_services()
    # then a private server is used instead of failing every test
    assert os.environ["DATABASE_URL"] != refused
    connection = psycopg2.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres")
    connection.close()


def test_explicit_database_url_is_never_replaced_when_it_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an explicit URL whose server answers is the caller's choice, even if it will fail later
    explicit = "postgres://no_such_role_aud@127.0.0.1:5432/wellbeing"
    monkeypatch.setenv("DATABASE_URL", explicit)
    ensure_services()
    assert os.environ["DATABASE_URL"] == explicit
