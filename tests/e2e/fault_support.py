"""PostgreSQL and Redis instances of a fault test's own, and a gunicorn node on them.

The fault tests stop and start the services they depend on, so they never use
the machine's: each starts its own PostgreSQL cluster (``initdb`` + ``pg_ctl``,
run as the ``postgres`` user, which PostgreSQL insists on when started by root)
and its own ``redis-server``, on free ports of 127.0.0.1, in temporary
directories, and stops them whatever happens. Without the binaries the tests
skip, except under ``CI=true``, where a missing tool fails the run.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def missing(reason: str):
    """Skip for a missing tool, or fail under CI (where nothing may be skipped for one)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class OwnPostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port``, trust authentication."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        if self.bin is None or not (self.bin / "initdb").exists():
            missing("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                missing("running as root and there is no postgres user to run PostgreSQL as")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp_path: its parents are root's (mode 700), the postgres user could not reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="bouncer-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str, timeout: int = 60, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, str(self.bin / tool), *args], capture_output=True, text=True, timeout=timeout, check=check,
            cwd=self.dir,
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start", timeout=90)

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown (sessions ended, everything flushed); ``immediate``: a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class OwnRedis:
    """A redis-server on 127.0.0.1:``port``; ``persistent`` keeps its data across a restart
    (append-only file, fsync on every write), else it keeps nothing (``--save ""``)."""

    def __init__(self, *, persistent: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("redis-server not found")
        self.dir = Path(tempfile.mkdtemp(prefix="bouncer-faults-redis-"))
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: redis-server shuts down cleanly (and, persistent, with its file flushed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def close(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_ready(url: str, *, seconds: float = 60) -> dict:
    """Poll ``/readyz`` until it answers 200 (bounded); its body."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            answer = requests.get(f"{url}/readyz", timeout=10)
            last = (answer.status_code, answer.text)
            if answer.status_code == 200:
                return answer.json()
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not recover within {seconds}s: {last}")
