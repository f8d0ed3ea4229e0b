"""The RSA key ring that signs OpenID Connect id_tokens (RS256, ``kid`` in the header).

Read once, when the settings load (django-oauth-toolkit takes the keys as the
``OIDC_RSA_PRIVATE_KEY`` / ``OIDC_RSA_PRIVATE_KEYS_INACTIVE`` settings), from:

1. ``BOUNCER_OIDC_PRIVATE_KEY`` (or ``_FILE``): one PEM private key, no rotation;
2. the key-ring file ``BOUNCER_OIDC_KEYS_FILE`` (JSON ``[{"kid", "pem"}]``,
   current key first), written by ``manage.py oidc_rotate_keys``. In
   development a missing ring is created on first start; in production it is
   never silently invented (each node would sign with its own): the settings
   still load without it, so ``migrate`` and ``oidc_rotate_keys`` can run
   first, and ``oidc_keys_require`` (called by config/wsgi.py, and the deploy
   check) refuses to serve without it.

The ``kid`` is the RFC 7638 thumbprint, which is what django-oauth-toolkit puts
in the id_token header and the JWKS. This module is imported by
``config/settings/oauth.py``, so it must not import models or read settings.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from jwcrypto import jwk

from bouncer.core.keyfiles import key_ring_file_read, key_ring_file_write

#: Previous keys kept in the JWKS after a rotation, so id_tokens signed with
#: them still verify until they expire.
KEEP_PREVIOUS = 2


def _generate_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def oidc_key_id(pem: str) -> str:
    """The RFC 7638 thumbprint: the ``kid`` django-oauth-toolkit publishes."""
    try:
        key = jwk.JWK.from_pem(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"OIDC signing key is not a PEM private key: {exc}") from None
    if key.get("kty") != "RSA" or not key.has_private:
        raise ImproperlyConfigured("OIDC signing key must be an RSA private key (RS256)")
    return key.thumbprint()


def oidc_ring_entry_new() -> dict:
    pem = _generate_pem()
    return {"kid": oidc_key_id(pem), "pem": pem}


def oidc_ring_rotate(path: Path, *, keep: int = KEEP_PREVIOUS) -> dict:
    """Put a new key first; keep ``keep`` previous ones for verification."""
    entry = oidc_ring_entry_new()
    key_ring_file_write(path, [entry, *key_ring_file_read(path)[:keep]])
    return entry


def oidc_signing_pems(*, private_key: str, keys_file: str, production: bool) -> list[str]:
    """PEMs, current first (none in production before a ring exists).
    Validates each so a bad key fails start-up."""
    if private_key:
        oidc_key_id(private_key)
        return [private_key]
    path = Path(keys_file)
    entries = key_ring_file_read(path)
    if not entries:
        if production:
            return []  # refused when serving: oidc_keys_require()
        entries = [oidc_ring_entry_new()]
        key_ring_file_write(path, entries)
    for entry in entries:
        oidc_key_id(entry["pem"])
    return [entry["pem"] for entry in entries]


NO_KEY_MESSAGE = "No OIDC signing key: set BOUNCER_OIDC_PRIVATE_KEY(_FILE) or run manage.py oidc_rotate_keys"


def oidc_keys_require(oauth2_provider: dict) -> None:
    """Refuse to serve without an id_token signing key (the settings load without one)."""
    if not oauth2_provider.get("OIDC_RSA_PRIVATE_KEY"):
        raise ImproperlyConfigured(NO_KEY_MESSAGE)
