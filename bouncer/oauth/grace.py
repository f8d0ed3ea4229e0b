"""The refresh-token grace period, with tokens stored hashed.

django-oauth-toolkit answers a rotated refresh token presented again within
``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` (two tabs refreshing at once) with the
pair it issued the first time, read from the token rows. With hashed storage
those rows hold no token, so it would answer blanks (its check E001 refuses
the combination). Bouncer keeps the answer itself:

- when a refresh token R is rotated, the response (access token, refresh
  token, scope) goes into the cache under ``oauth:grace:<sha256(R)>`` for the
  grace period, encrypted with AES-GCM under a key derived from R (HKDF-SHA256)
  and bound to that cache key (associated data). R itself is never stored;
- when R comes back within the grace period, the entry is opened with R.

A rotation happens once per refresh token: ``refresh_token_claim`` (below)
lets exactly one concurrent request rotate R; the others are replays, answered
from the entry within the grace period, reuse after it.

Why a cache entry and not the database (the JWT grace keeps the successor's
id on the retired row and signs it again): these tokens are random strings,
not derivable from anything stored, so the answer itself must be kept, and
secrets are never stored raw; sealed under R, the entry is useless to anyone
without R, and it is needed for seconds only.

So the cache never holds a usable token for anyone who does not already hold
R (whoever holds R gets that answer from the toolkit anyway). R is random
(oauthlib: 30 characters, about 178 bits), so a fast KDF is enough.

The entry lives in Django's default cache: Redis when ``REDIS_URL`` is set,
shared by every process. Without it (in-process cache) the second request only
finds the entry if the same process serves it; otherwise it is refused with
``invalid_grant``, never given blank tokens, and the family stays alive.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from bouncer.core.digests import sha256_hex

KEY_PREFIX = "oauth:grace:"
_INFO = b"bouncer/oauth/refresh-grace/v1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class GraceAnswer:
    access_token: str
    refresh_token: str
    scope: str


def grace_cache_key(*, refresh_token: str) -> str:
    return KEY_PREFIX + sha256_hex(refresh_token)


def _aead(refresh_token: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(refresh_token.encode("utf-8"))
    return AESGCM(key)


def grace_answer_remember(*, refresh_token: str, answer: GraceAnswer, seconds: int) -> None:
    """Keep the answer to the rotation of ``refresh_token`` for ``seconds``."""
    if seconds <= 0:
        return
    key = grace_cache_key(refresh_token=refresh_token)
    plaintext = json.dumps({"a": answer.access_token, "r": answer.refresh_token, "s": answer.scope}).encode("utf-8")
    nonce = os.urandom(_NONCE_BYTES)
    cache.set(key, nonce + _aead(refresh_token).encrypt(nonce, plaintext, key.encode("ascii")), timeout=seconds)


def grace_answer_recall(*, refresh_token: str) -> GraceAnswer | None:
    """The answer kept for ``refresh_token``, or None (missing, expired, not openable)."""
    key = grace_cache_key(refresh_token=refresh_token)
    sealed = cache.get(key)
    if not isinstance(sealed, bytes) or len(sealed) <= _NONCE_BYTES:
        return None
    try:
        plaintext = _aead(refresh_token).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], key.encode("ascii"))
        data = json.loads(plaintext)
        answer = GraceAnswer(access_token=data["a"], refresh_token=data["r"], scope=data["s"])
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None
    if not (answer.access_token and answer.refresh_token):
        return None
    return answer


def refresh_token_claim(*, refresh_token) -> bool:
    """Take the presented refresh token row for this rotation: True for exactly one request.

    A conditional UPDATE (``WHERE revoked IS NULL``), run in the toolkit's
    token transaction before it rotates: it holds the row until that
    transaction ends, and of concurrent requests with one token only the
    first sees it unrevoked. ``updated`` is what it writes (``auto_now``,
    which a queryset update does not set by itself).
    """
    return get_refresh_token_model().objects.filter(pk=refresh_token.pk, revoked__isnull=True).update(
        updated=timezone.now()
    ) == 1


def refresh_token_in_grace(*, refresh_token, seconds: int) -> bool:
    """Was this refresh token revoked (rotated) less than ``seconds`` ago? Read after a lost claim."""
    revoked = get_refresh_token_model().objects.filter(pk=refresh_token.pk).values_list("revoked", flat=True).first()
    # Never negative (clocks of two nodes): a grace of 0 forgives nothing.
    return revoked is not None and seconds > 0 and max(timezone.now() - revoked, timedelta(0)) < timedelta(seconds=seconds)
