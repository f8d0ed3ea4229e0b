"""How long ``manage.py bouncer_import`` takes for a larger old stack (prints figures, asserts nothing).

    .venv/bin/python benchmarks/import_scale.py --users 2000

Builds a synthetic old database (SQLite: ``auth_user`` with one PBKDF2 hash
shared by every row, and one DRF token per user) and a fresh Bouncer SQLite
database in a temporary directory, then times a dry run, the import and a
rerun, each as the operator runs them (a ``manage.py`` process). The OAuth2
tables are left out: their rows cost about what a token's does.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HASH = "pbkdf2_sha256$1000000$benchsalt$2Yq0m3kY1h1Xc0yq9rS1p8l0m3c5YH7nQx2c0b4d6e8="


def build_source(path: Path, users: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128), last_login datetime NULL, is_superuser bool,"
            " username varchar(150) UNIQUE, first_name varchar(150), last_name varchar(150), email varchar(254), is_staff bool,"
            " is_active bool, date_joined datetime)"
        )
        conn.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, user_id integer UNIQUE)")
        conn.executemany(
            "INSERT INTO auth_user VALUES (?, ?, NULL, 0, ?, '', '', ?, 0, 1, '2025-01-01 00:00:00')",
            ((n, HASH, f"user{n}", f"user{n}@example.com") for n in range(1, users + 1)),
        )
        conn.executemany(
            "INSERT INTO authtoken_token VALUES (?, '2025-01-02 00:00:00', ?)",
            ((secrets.token_hex(20), n) for n in range(1, users + 1)),
        )


def timed(env: dict, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    users = parser.parse_args().users
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        build_source(tmp_path / "old.sqlite3", users)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
        env.update(DJANGO_SETTINGS_MODULE="config.settings.base", BOUNCER_LOCAL_DIR=str(tmp_path / "local"))
        timed(env, "migrate", "--noinput", "-v", "0")
        source = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        startup = timed(env, "check")
        print(f"{users} users, {users} DRF tokens (manage.py start-up alone: {startup:.1f} s)")
        for label, flags in (("dry run", ("--dry-run",)), ("import", ()), ("rerun", ())):
            seconds = timed(env, "bouncer_import", "--source", source, *flags)
            work = seconds - startup
            rate = f"~{users / work:,.0f} users/s after start-up" if work > 1 else "(within start-up noise)"
            print(f"  {label:8} {seconds:6.1f} s   {rate}")


if __name__ == "__main__":
    main()
