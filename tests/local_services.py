"""Make sure PostgreSQL and Redis answer before the tests start.

Uses the servers on 127.0.0.1:5432 / :6379 when they answer (this machine and CI). Otherwise
starts throwaway ones in a temporary folder (initdb + pg_ctl, redis-server) on free ports and
points DATABASE_URL / REDIS_URL at them; when the binaries are missing it stops with the names
of the Debian packages to install.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse


class MissingServiceError(RuntimeError):
    pass


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _run(args: list[str], user: str | None) -> None:
    if user:
        args = ["runuser", "-u", user, "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def start_throwaway_postgres() -> str:
    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise MissingServiceError(
            "No PostgreSQL answers on 127.0.0.1:5432 and initdb/pg_ctl are not installed: "
            "apt-get install postgresql (or start a server and set DATABASE_URL)."
        )
    workdir = tempfile.mkdtemp(prefix="wellbeing-pg-")
    # PostgreSQL refuses to run as root; use the 'postgres' system user when we are root.
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(workdir, user)
    port = free_port()
    data = os.path.join(workdir, "data")
    _run([initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], user)
    _run(
        [
            pg_ctl,
            "-D",
            data,
            "-l",
            os.path.join(workdir, "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1",
        ],
        user,
    )

    def stop() -> None:
        stop_args = [pg_ctl, "-D", data, "-m", "fast", "stop"]
        if user:
            stop_args = ["runuser", "-u", user, "--", *stop_args]
        subprocess.run(stop_args, capture_output=True, check=False)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    return f"postgres://postgres@127.0.0.1:{port}/wellbeing"


def start_throwaway_redis() -> str:
    server = shutil.which("redis-server")
    if not server:
        raise MissingServiceError(
            "No Redis answers on 127.0.0.1:6379 and redis-server is not installed: "
            "apt-get install redis-server (or start one and set REDIS_URL)."
        )
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(proc.terminate)
    deadline = time.monotonic() + 10
    while not port_answers("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return f"redis://127.0.0.1:{port}/14"


DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/wellbeing"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def postgres_accepts(url: str) -> bool:
    """Whether the server of ``url`` lets its user in (the database itself may not exist yet)."""
    import psycopg2

    parts = urlparse(url)
    try:
        psycopg2.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def ensure_services() -> None:
    """Point DATABASE_URL and REDIS_URL at answering servers (see module docstring)."""
    configured = os.environ.get("DATABASE_URL")
    db_url = configured or DEFAULT_DATABASE_URL
    db = urlparse(db_url)
    answers = port_answers(db.hostname or "127.0.0.1", db.port or 5432)
    # Debian's own cluster (started by `apt-get install postgresql` where systemd runs) answers
    # on 5432 but refuses password-less TCP logins: without an explicit DATABASE_URL, use a
    # private server instead of failing every test. An explicit URL is left to fail loudly.
    if not answers or (configured is None and not postgres_accepts(db_url)):
        os.environ["DATABASE_URL"] = start_throwaway_postgres()
    redis = urlparse(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    if not port_answers(redis.hostname or "127.0.0.1", redis.port or 6379):
        os.environ["REDIS_URL"] = start_throwaway_redis()
