"""A throwaway local stack for the pipeline benchmark and reliability tests.

Starts what the real deployment runs, as subprocesses: an ASGI server (daphne), Celery workers on
the ``inference`` queue (or its ``inference.<k>`` shards), a private redis-server on a free port,
and a TCP proxy in front of PostgreSQL so a database outage can be simulated without touching the
shared server. Nothing here stops or restarts the machine's own PostgreSQL or Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Literal

ROOT = Path(__file__).resolve().parent.parent
ProxyMode = Literal["pass", "refuse", "stall"]


class StackError(RuntimeError):
    """A service did not start (the message names it and where its log is)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not open port {port} within {timeout:.0f} s")


class ThrowawayRedis:
    """redis-server on a free port; with ``persistent`` its data survives a restart (AOF)."""

    def __init__(self, persistent: bool = True) -> None:
        self.server = shutil.which("redis-server")
        if not self.server:
            raise StackError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wellbeing-redis-")
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else []
        args = [str(self.server), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", self.dir, "--save", "", *aof]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10, "redis-server", self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class TcpProxy:
    """Asyncio TCP proxy to ``target_port``. Modes: pass, refuse (cut every connection), stall.

    ``connections`` counts accepted client connections (a stalled worker shows up there).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode: ProxyMode = "pass"
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def set_mode(self, mode: ProxyMode) -> None:
        """Switch mode; refuse and stall also cut the connections already open."""
        self.mode = mode
        if mode != "pass":
            self._loop.call_soon_threadsafe(self._cut_all)

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "refuse":
            writer.close()
            return
        while self.mode == "stall":
            await asyncio.sleep(0.05)
            if reader.at_eof():
                writer.close()
                return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment of the server and worker subprocesses (production settings, local URLs)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="wellbeing.settings",
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY", "local-stack-secret-key-0123456789abcdef-xyz"),
        FACE_TEMPLATE_KEY=os.environ.get(
            "FACE_TEMPLATE_KEY", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="
        ),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        PYTHONUNBUFFERED="1",
        # bench/ is not installed with the product: the worker imports bench.worker_app from here
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        **extra,
    )
    return env


def start_server(env: dict[str, str], port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """daphne serving wellbeing.asgi on 127.0.0.1:port (HTTP + WebSockets)."""
    daphne = Path(sys.executable).with_name("daphne")
    proc = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "wellbeing.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port, 60, "daphne", proc)
    return proc


def start_worker(
    env: dict[str, str],
    log: IO[bytes],
    concurrency: int = 1,
    visibility_timeout: int | None = None,
    queues: str = "inference",
) -> subprocess.Popen[bytes]:
    """A Celery worker on ``queues`` (comma-separated; e.g. one shard ``inference.0``), in its own
    process group (kill -9 friendly)."""
    celery = Path(sys.executable).with_name("celery")
    worker_env = dict(env)
    if visibility_timeout is not None:
        worker_env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
    args = [str(celery), "-A", "bench.worker_app", "worker", "-Q", queues]
    args += ["-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "INFO"]
    return subprocess.Popen(
        args, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15
) -> None:
    """Signal the process group of ``proc`` (started by us) and wait for it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
