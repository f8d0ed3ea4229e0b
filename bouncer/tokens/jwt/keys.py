"""The JWT signing key ring: current key first, previous keys kept for verification.

Sources, in order:
1. ``BOUNCER_JWT_PRIVATE_KEY`` (or ``_FILE``): one PEM private key, no rotation;
2. the key-ring file ``BOUNCER_JWT_KEYS_FILE`` (JSON ``[{"kid", "pem"}]``),
   written by ``manage.py jwt_rotate_keys``; in development it is created on
   first use. In production a missing key ring is an error, never a silent
   new key (that would log every user out on each node differently).

For HS256 there is no ring: one shared secret (``BOUNCER_JWT_HS_SECRET`` or
SECRET_KEY) and no JWKS.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bouncer.core.keyfiles import key_ring_file_identity, key_ring_file_read, key_ring_file_write


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Any
    public: Any


def _generate_pem(algorithm: str) -> str:
    if algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _kid(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")


def _load(pem: str, algorithm: str) -> SigningKey:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    wanted = ec.EllipticCurvePrivateKey if algorithm == "ES256" else rsa.RSAPrivateKey
    if not isinstance(private, wanted):
        raise ImproperlyConfigured(f"JWT key does not match BOUNCER_JWT_ALGORITHM={algorithm}")
    public = private.public_key()
    return SigningKey(kid=_kid(public), private=private, public=public)


def new_ring_entry(algorithm: str) -> dict:
    pem = _generate_pem(algorithm)
    return {"kid": _load(pem, algorithm).kid, "pem": pem}


@lru_cache(maxsize=4)
def _ring(algorithm: str, private_key: str, keys_file: str, production: bool, identity) -> tuple[SigningKey, ...]:
    if private_key:
        return (_load(private_key, algorithm),)
    path = Path(keys_file)
    entries = key_ring_file_read(path)
    if not entries:
        if production:
            raise ImproperlyConfigured(
                "No JWT signing key: set BOUNCER_JWT_PRIVATE_KEY(_FILE) or run manage.py jwt_rotate_keys"
            )
        entries = [new_ring_entry(algorithm)]
        key_ring_file_write(path, entries)
    return tuple(_load(entry["pem"], algorithm) for entry in entries)


def key_ring() -> tuple[SigningKey, ...]:
    """The asymmetric keys, current first (cached per process and configuration)."""
    conf = settings.BOUNCER_JWT
    # A rotation replaces the file; every process picks it up at its next
    # request (one stat), so all nodes sign with the new key and verify it at once.
    identity = None if conf["PRIVATE_KEY"] else key_ring_file_identity(conf["KEYS_FILE"])
    return _ring(conf["ALGORITHM"], conf["PRIVATE_KEY"], conf["KEYS_FILE"], settings.BOUNCER_PRODUCTION, identity)


def key_ring_reset() -> None:
    """Forget the cached ring (after a rotation, and in tests)."""
    _ring.cache_clear()


def hs_secret() -> str:
    return settings.BOUNCER_JWT["HS_SECRET"] or settings.SECRET_KEY


def jwks() -> dict:
    """Public keys for ``/.well-known/jwks.json``; empty for HS256."""
    algorithm = settings.BOUNCER_JWT["ALGORITHM"]
    if algorithm == "HS256":
        return {"keys": []}
    to_jwk = ECAlgorithm.to_jwk if algorithm == "ES256" else RSAAlgorithm.to_jwk
    keys = []
    for key in key_ring():
        jwk = to_jwk(key.public, as_dict=True)
        jwk.update({"kid": key.kid, "use": "sig", "alg": algorithm})
        keys.append(jwk)
    return {"keys": keys}
