"""A real Bouncer under gunicorn on 127.0.0.1, for tests with real HTTP clients.

The server gets its own database: a fresh SQLite file, or, when DATABASE_URL
points at PostgreSQL, a database created for the run and dropped after it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    return psycopg.connect(admin, autocommit=True)


@pytest.fixture(scope="session")
def server_db_url(tmp_path_factory):
    with server_database(os.environ.get("DATABASE_URL", ""), tmp_path_factory.mktemp("e2e")) as url:
        yield url


def server_env(*, db_url: str, local_dir: Path, **extra: str) -> dict:
    """The environment of a server process (and of management commands against it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=db_url,
        BOUNCER_LOCAL_DIR=str(local_dir),
        DJANGO_DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # A replayed OAuth2 refresh token is reuse at once (the 10 s default grace,
        # which the tests cannot wait out against a real clock, is tested in-process).
        BOUNCER_OAUTH_REFRESH_GRACE_SECONDS="0",
        # Every test signs in from 127.0.0.1, one user with the password grant
        # for each case of the scope matrix: the whole run is far more sign-ins
        # a minute than one address or account may make. The throttles
        # themselves are tested in-process (tests/security/test_signin_*.py).
        BOUNCER_THROTTLE_LOGIN_ACCOUNT="1000/min",
        BOUNCER_THROTTLE_LOGIN="1000/min",
        BOUNCER_THROTTLE_TOKEN="1000/min",
        BOUNCER_THROTTLE_SOCIAL="1000/min",
    )
    env.update(extra)
    return env


def server_prepare(env: dict) -> None:
    """migrate and collectstatic, as an operator does before the first start."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)


@contextmanager
def server_database(base: str, tmp_dir: Path, *, prefix: str | None = None):
    """A database of its own for one server: a fresh PostgreSQL database named
    ``<prefix>_<random>`` (default ``<base name>_e2e``) when ``base`` is a PostgreSQL URL (dropped after), else
    a SQLite file in ``tmp_dir``."""
    if not base.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_dir / ((prefix or 'e2e') + '.sqlite3')}"
        return
    # Named after the base database (``bouncer_ci`` → ``bouncer_ci_e2e_…``), so a
    # run against a database of one's own makes only databases of that name.
    base_name = urlsplit(base).path.lstrip("/") or "bouncer"
    name = f"{prefix or base_name + '_e2e'}_{secrets.token_hex(4)}"
    with _postgres_admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with _postgres_admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_server_env(server_db_url, tmp_path_factory):
    """The environment of the server process, for management commands against it."""
    return server_env(db_url=server_db_url, local_dir=tmp_path_factory.mktemp("bouncer-local"))


@contextmanager
def bouncer_server(env: dict, *, log_name: str = "server.log", port: int | None = None, workers: int = 2):
    """One gunicorn node on 127.0.0.1 (``port``, else a free one), started as the
    deployment guide starts it (gunicorn.conf.py and its environment variables); yields its URL."""
    local = Path(env["BOUNCER_LOCAL_DIR"])
    port = port or free_port()
    log = open(local / log_name, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT, env={**env, "BOUNCER_BIND": f"127.0.0.1:{port}", "BOUNCER_WORKERS": str(workers)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still warming up
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{(local / log_name).read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def live_server_url(live_server_env):
    server_prepare(live_server_env)
    with bouncer_server(live_server_env) as url:
        yield url
