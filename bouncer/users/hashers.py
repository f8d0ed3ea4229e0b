"""Argon2id with the cost taken from settings (OWASP minimum by default).

Django's own Argon2 hasher hard-codes 100 MiB and 8 lanes as class attributes;
this subclass reads ``BOUNCER_ARGON2`` at call time so the cost is a deployment
choice, and ``must_update`` (inherited) re-hashes a password at the next login
whenever the configured cost changes.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class BouncerArgon2PasswordHasher(Argon2PasswordHasher):
    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.BOUNCER_ARGON2["time_cost"]

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.BOUNCER_ARGON2["memory_cost"]

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.BOUNCER_ARGON2["parallelism"]
