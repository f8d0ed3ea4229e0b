"""SHA-256 hex digests: how every stored token is looked up, written once.

DRF device tokens (``DeviceToken.digest``), django-oauth-toolkit's
``token_checksum`` (the toolkit computes the same digest when it saves a
token), redeemed authorization codes and the refresh grace entries all key
their rows by ``sha256_hex(raw)``; a mismatch between two copies of this
function would make tokens silently unfindable. Standard library only, so
settings modules may import it.
"""

from __future__ import annotations

import hashlib


def sha256_hex(value: str) -> str:
    """The lowercase hex SHA-256 of ``value`` encoded as UTF-8."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
