"""One-row INSERT for the rows written on every authenticated write: audit events, refresh ids.

Why not ``Model.objects.create()``: for these small rows the ORM's save path
(signals, the insert compiler, the returning-fields machinery) cost about
0.35 ms of CPU per row, more than the database spent storing it, on
endpoints whose rate is bound by CPU (docs/performance.md). The statement
is built once per model and database vendor; every value still goes through
its field's ``pre_save`` and ``get_db_prep_save``, as the ORM's own insert
does, so rows are stored exactly as ``create()`` stores them. No
``pre_save``/``post_save`` signals are sent: only models nobody listens to
may use it.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models


@cache
def _plan(model: type[models.Model], vendor: str) -> tuple[str, tuple, bool, str]:
    meta = model._meta
    auto_pk = isinstance(meta.pk, models.AutoField)  # Big/Small AutoField subclass it
    fields = tuple(f for f in meta.concrete_fields if not (auto_pk and f.primary_key))
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(meta.db_table)} ({', '.join(q(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if auto_pk:
        sql += f" RETURNING {q(meta.pk.column)}"
    casts = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    return sql, fields, auto_pk, casts


def row_columns(model: type[models.Model]) -> tuple[str, str, str]:
    """A model's INSERT in parts, for a statement that embeds it as ``INSERT ... SELECT``:
    (quoted table, quoted columns, typed placeholders). Each placeholder is cast to its
    column's type: an untyped literal in a SELECT list would be text. Values: ``row_values``."""
    _, fields, _, casts = _plan(model, connection.vendor)
    q = connection.ops.quote_name
    return q(model._meta.db_table), ", ".join(q(f.column) for f in fields), casts


def row_values(obj: models.Model) -> list:
    """``obj``'s values in ``row_columns`` order, prepared as the ORM's insert prepares them."""
    _, fields, _, _ = _plan(type(obj), connection.vendor)
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def row_insert(obj: models.Model) -> models.Model:
    """INSERT ``obj`` as one statement (with its generated primary key read back); returns it."""
    sql, _, auto_pk, _ = _plan(type(obj), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, row_values(obj))
        if auto_pk:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
