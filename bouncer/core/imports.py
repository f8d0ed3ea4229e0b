"""Moving in from another Django stack: the source database and the registry of import steps.

``manage.py bouncer_import --source <database URL>`` (bouncer/users) reads a
stock Django project's database (tutorial 000's stack: ``auth_user``, DRF's
``authtoken``, django-oauth-toolkit, simplejwt) and runs every registered
step in order inside one transaction of Bouncer's database. Each step lives in
the app that owns what it writes (users, DRF tokens, OAuth2, JWT) and
registers itself from that app's ``receivers.py``, like the credential kinds:
this module has no models and imports no app, so ``users`` reaches the
credential kinds only through it.

The source is opened read-only (SQLite ``mode=ro``, PostgreSQL
``default_transaction_read_only``) through a Django database wrapper that is
not one of ``connections``: nothing in Bouncer can write to it, and its
rows are read with plain SQL over the tables a stock install creates, so the
old project's models need not be importable here.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from django.db import DatabaseError
from django.db.utils import load_backend
from django.utils.dateparse import parse_datetime

SOURCE_ALIAS = "bouncer_import_source"
ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")


class ImportSourceError(Exception):
    """The source URL is wrong, unreachable, or not a Django database: nothing was read."""


class ImportRefused(Exception):
    """The source cannot be imported as it is (e.g. two old accounts that would become
    one): nothing was written. ``problems`` says what to fix."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


def url_redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}"))


def _settings_dict(url: str) -> dict[str, Any]:
    import dj_database_url

    try:
        config = dj_database_url.parse(url)
    except Exception as exc:  # UnknownSchemeError, ValueError: the library's own wording
        raise ImportSourceError(f"not a database URL ({exc}): use sqlite:////path/db.sqlite3 or postgres://user@host/name") from None
    engine = config.get("ENGINE", "")
    if engine not in ENGINES:
        raise ImportSourceError(f"unsupported source database {engine!r}: SQLite or PostgreSQL only")
    if engine == "django.db.backends.sqlite3":
        path = str(config.get("NAME") or "")
        if not path or path == ":memory:" or not os.path.isfile(path):
            raise ImportSourceError(f"no SQLite database file at {path or '(empty path)'!r}")
        # Read-only (Django opens SQLite with uri=True): a wrong path never creates a file.
        config["NAME"] = f"file:{quote(os.path.abspath(path))}?mode=ro"
    else:
        options = config.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", 5)
        options["options"] = "-c default_transaction_read_only=on"
    for key, value in (
        ("ATOMIC_REQUESTS", False), ("AUTOCOMMIT", True), ("CONN_MAX_AGE", 0), ("CONN_HEALTH_CHECKS", False),
        ("OPTIONS", {}), ("TIME_ZONE", None), ("USER", ""), ("PASSWORD", ""), ("HOST", ""), ("PORT", ""),
    ):
        config.setdefault(key, value)
    config.setdefault("TEST", {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None})
    return config


class SourceDatabase:
    """The old project's database, read-only, read with plain SQL."""

    def __init__(self, url: str):
        self.url = url
        config = _settings_dict(url)
        self.vendor = "sqlite" if config["ENGINE"].endswith("sqlite3") else "postgresql"
        # A wrapper of its own, never registered in ``connections``: no router, model or
        # transaction of Bouncer's can reach it.
        self._wrapper = load_backend(config["ENGINE"]).DatabaseWrapper(config, SOURCE_ALIAS)
        try:
            self._wrapper.ensure_connection()
            self._tables = set(self._wrapper.introspection.table_names())
        except DatabaseError as exc:
            self.close()
            raise ImportSourceError(f"cannot read the source database {url_redacted(url)}: {str(exc).strip()}") from None
        if "auth_user" not in self._tables:
            self.close()
            raise ImportSourceError(
                f"{url_redacted(url)} has no auth_user table: not the database of a Django project with django.contrib.auth's User"
            )

    def has_table(self, table: str) -> bool:
        return table in self._tables

    def columns(self, table: str) -> set[str]:
        # Plain SQL: Django's get_table_description() asks the backend's features,
        # which open a transaction by alias, and this wrapper has no alias in ``connections``.
        if self.vendor == "sqlite":
            return {row["name"] for row in self.rows(f"PRAGMA table_info({self._wrapper.ops.quote_name(table)})")}
        rows = self.rows("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s", (table,))
        return {row["column_name"] for row in rows}

    def rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        """Every row of a SELECT, as dicts (``%s`` placeholders on every backend)."""
        with self._wrapper.cursor() as cursor:
            cursor.execute(sql, params)
            names = [description[0] for description in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def datetime_param(self, value: datetime):
        """``value`` as the source's backend compares it with its datetime columns."""
        return self._wrapper.ops.adapt_datetimefield_value(value)

    def close(self) -> None:
        self._wrapper.close()


#: Values per ``IN (...)`` and rows per bulk insert (SQLite allows 999 variables on old builds).
BATCH = 500


def in_batches(values) -> list[list]:
    values = list(values)
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def source_datetime(value) -> datetime | None:
    """A datetime column as an aware datetime (Django keeps UTC in SQLite under USE_TZ)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


@dataclass
class ImportReport:
    """What a run did (or, with ``--dry-run``, would do), by item."""

    counts: dict[str, Counter] = field(default_factory=dict)
    #: Things the operator must know or act on (a client whose grant was changed, ...).
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, item: str, outcome: str, n: int = 1) -> None:
        if n:
            self.counts.setdefault(item, Counter())[outcome] += n

    def imported(self) -> int:
        return sum(counter["imported"] for counter in self.counts.values())

    def summary(self) -> dict[str, dict[str, int]]:
        return {item: dict(sorted(counter.items())) for item, counter in self.counts.items()}

    def lines(self) -> list[str]:
        out = []
        for item, outcomes in self.summary().items():
            out.append(f"{item}: " + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items()))
        out += [f"warning: {text}" for text in self.warnings]
        out += [f"note: {text}" for text in self.notes]
        return out


@dataclass
class ImportContext:
    source: SourceDatabase
    report: ImportReport
    now: datetime
    #: Old user id → Bouncer user id, for every old user imported now or by an earlier run.
    users: dict[int, int] = field(default_factory=dict)
    #: Old ids of inactive users: none of their credentials is imported.
    inactive: set[int] = field(default_factory=set)
    #: Old ids of users left out (a collision, with ``--skip-collisions``): nor are theirs.
    skipped_users: set[int] = field(default_factory=set)
    #: Old ids of the users this run created. Credentials are imported for these only:
    #: a user imported by an earlier run may have revoked a credential in Bouncer since
    #: (a password change, "sign out everywhere"), and a rerun must not bring it back.
    fresh_users: set[int] = field(default_factory=set)
    #: Shared between steps (e.g. old OAuth2 application id → Bouncer's).
    extra: dict[str, Any] = field(default_factory=dict)

    def user_for(self, old_user_id, *, item: str) -> int | None:
        """The Bouncer user id for an old credential's owner, or None (counted as skipped)."""
        if old_user_id in self.skipped_users:
            self.report.count(item, "skipped: its user was not imported")
            return None
        if old_user_id in self.inactive:
            self.report.count(item, "skipped: its user is inactive")
            return None
        user_id = self.users.get(old_user_id)
        if user_id is None:
            self.report.count(item, "skipped: unknown user")
        elif old_user_id not in self.fresh_users:
            self.report.count(item, "skipped: its user was imported by an earlier run")
            return None
        return user_id


class ImportStep(Protocol):
    #: Runs in increasing order (users first: the other steps need ``context.users``).
    order: int
    name: str

    def run(self, *, context: ImportContext, skip_collisions: bool) -> None: ...


_STEPS: dict[str, ImportStep] = {}


def import_step_register(step: ImportStep) -> None:
    _STEPS[step.name] = step


def import_steps() -> list[ImportStep]:
    return sorted(_STEPS.values(), key=lambda step: step.order)
