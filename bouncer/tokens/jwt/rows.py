"""The statements of every refresh, in SQL: retire the presented token, store the new one.

Retiring records the successor's id on the retired row in the same UPDATE, so
the rotation is the one fact a replay within the grace window is answered
from (services.jwt_refresh).

Why not the ORM here: building the conditional UPDATE (a filter across the
family) and the INSERT through the QuerySet machinery took about 1.5 ms of
CPU per refresh, more than the database spent running them, and the refresh
endpoint is rate-bound on CPU (docs/performance.md). The SQL below is plain
SQL-92 (PostgreSQL and SQLite run it as is); values are adapted by the
models' own fields, so UUIDs and datetimes are stored exactly as the ORM
stores them, and every other read and write of these tables uses the ORM.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from uuid import UUID

from django.db import connection

from bouncer.audit.models import AuditEvent
from bouncer.core.rows import row_columns, row_values
from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken


@cache
def _sql(vendor: str) -> tuple[str, str, str]:
    """(retire, insert, rotate-at-once) for this database; built once."""
    q = connection.ops.quote_name
    token, family = q(JwtRefreshToken._meta.db_table), q(JwtFamily._meta.db_table)
    retire = (
        f"UPDATE {token} SET {q('used_at')} = %s, {q('successor_jti')} = %s"
        f" WHERE {q('jti')} = %s AND {q('used_at')} IS NULL AND {q('family_id')} = %s"
        f" AND EXISTS (SELECT 1 FROM {family} WHERE {q('id')} = %s AND {q('user_id')} = %s AND {q('revoked_at')} IS NULL)"
    )
    columns = f"{q('jti')}, {q('family_id')}, {q('issued_at')}, {q('expires_at')}, {q('used_at')}"
    insert = f"INSERT INTO {token} ({columns}) VALUES (%s, %s, %s, %s, NULL)"
    audit_table, audit_columns, audit_casts = row_columns(AuditEvent)
    at_once = (
        "WITH cfg AS (SELECT set_config('synchronous_commit', CAST(%s AS text), true) AS v),"
        f" retired AS ({retire} RETURNING {q('family_id')}),"
        f" issued AS (INSERT INTO {token} ({columns})"
        f" SELECT CAST(%s AS uuid), {q('family_id')}, CAST(%s AS timestamptz), CAST(%s AS timestamptz), NULL FROM retired),"
        f" audited AS (INSERT INTO {audit_table} ({audit_columns}) SELECT {audit_casts} FROM retired)"
        " SELECT (SELECT count(*) FROM retired), (SELECT v FROM cfg)"
    )
    return retire, insert, at_once


def _prep(model, field: str, value):
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def _retire_params(*, jti: UUID, family_id: UUID, user_id, now: datetime, successor: UUID) -> list:
    family_pk = _prep(JwtFamily, "id", family_id)
    return [
        _prep(JwtRefreshToken, "used_at", now),
        _prep(JwtRefreshToken, "successor_jti", successor),
        _prep(JwtRefreshToken, "jti", jti),
        family_pk,
        family_pk,
        _prep(JwtFamily, "user", user_id),
    ]


def refresh_row_retire(*, jti: UUID, family_id: UUID, user_id, now: datetime, successor: UUID) -> bool:
    """Mark an unused refresh token of a live family of ``user_id`` used, rotated into
    ``successor``; True for the one caller that did."""
    params = _retire_params(jti=jti, family_id=family_id, user_id=user_id, now=now, successor=successor)
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection.vendor)[0], params)
        return cursor.rowcount == 1


def refresh_row_insert(*, jti: UUID, family_id: UUID, issued_at: datetime, expires_at: datetime) -> None:
    params = [
        _prep(JwtRefreshToken, "jti", jti),
        _prep(JwtFamily, "id", family_id),
        _prep(JwtRefreshToken, "issued_at", issued_at),
        _prep(JwtRefreshToken, "expires_at", expires_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection.vendor)[1], params)


def refresh_commit_without_flush() -> None:
    """PostgreSQL: let this transaction's COMMIT return before its WAL reaches the disk.

    Only the winning rotation of a refresh asks for it (unless
    ``BOUNCER_JWT_REFRESH_DURABLE``): a sync worker otherwise sits idle for the
    flush, about a quarter of a refresh's time (docs/performance.md).
    ``synchronous_commit = off`` never corrupts or half-applies anything; a
    database crash can lose the last fraction of a second of committed
    rotations, which then never happened: their new refresh tokens are
    refused (the client signs in again) and the tokens they retired work
    once more. Sign-ins, logouts, revocations and reuse detection keep
    waiting for their flush. SQLite (``synchronous=NORMAL`` in WAL mode)
    makes the same trade for every commit already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def refresh_rotate_at_once(
    *, jti: UUID, family_id: UUID, user_id, now: datetime, new_jti: UUID, new_expires: datetime, audit, durable: bool
) -> bool:
    """PostgreSQL: the whole winning rotation as one statement, so one round trip and one commit.

    Retire the presented token (the conditional UPDATE of ``refresh_row_retire``),
    insert its successor and the audit row, each only if the UPDATE matched;
    the statement is its own transaction (autocommit), with
    ``synchronous_commit`` off for it unless ``durable`` (see
    ``refresh_commit_without_flush``). True when this caller won. Six round
    trips (BEGIN, UPDATE, SET, two INSERTs, COMMIT) were most of a refresh's
    wait and a quarter of its CPU.
    """
    params = [
        "on" if durable else "off",
        *_retire_params(jti=jti, family_id=family_id, user_id=user_id, now=now, successor=new_jti),
        _prep(JwtRefreshToken, "jti", new_jti),
        _prep(JwtRefreshToken, "issued_at", now),
        _prep(JwtRefreshToken, "expires_at", new_expires),
        *row_values(audit),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection.vendor)[2], params)
        return cursor.fetchone()[0] == 1

