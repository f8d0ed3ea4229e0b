"""Benchmark-only settings: Bouncer with Django's stock PBKDF2 as the preferred hasher.

Used by ``benchmarks/run.py`` to measure the login rate a default Django
install would get, in the same run as Bouncer's Argon2id. PBKDF2 comes first,
so a password hashed here stays PBKDF2 (Django's default iterations) and is
never upgraded at login. Never use this module to serve real users.
"""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import PASSWORD_HASHERS

_STOCK = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
PASSWORD_HASHERS = [_STOCK, *(name for name in PASSWORD_HASHERS if name != _STOCK)]
