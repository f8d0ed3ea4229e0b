"""A per-process memory of client secrets already verified.

Client secrets are stored as password hashes (Argon2id, Bouncer's first
hasher), which is what makes a leaked ``oauth2_provider_application`` table
useless, and deliberately slow: ~tens of ms per check. A server-side client
presents the same secret on every token request, so hashing it every time
buys nothing after the first success: this remembers, per process, a keyed
digest (HMAC with SECRET_KEY) of (client id, presented secret, stored hash)
for each secret that verified. A later request with the same triple skips the
hasher; any other secret, client or stored hash (a rotated secret) misses and
is hashed as usual. Nothing reversible is kept: the digest cannot be turned
back into the secret, and only successes are remembered, so failed guesses
can neither fill the memory nor ever match. Bounded in size and age.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from django.conf import settings

_lock = threading.Lock()
_verified: OrderedDict[bytes, float] = OrderedDict()


def _digest(client_id: str, secret: str, stored_hash: str) -> bytes:
    message = "\0".join((client_id, secret, stored_hash)).encode("utf-8", "surrogatepass")
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()


def client_secret_known(*, client_id: str, secret: str, stored_hash: str) -> bool:
    key = _digest(client_id, secret, stored_hash)
    now = time.monotonic()
    with _lock:
        stamp = _verified.get(key)
        if stamp is None:
            return False
        if now - stamp > settings.BOUNCER_OAUTH["VERIFIED_SECRETS_SECONDS"]:
            del _verified[key]
            return False
        _verified.move_to_end(key)
        return True


def client_secret_remember(*, client_id: str, secret: str, stored_hash: str) -> None:
    keys = (_digest(client_id, secret, stored_hash), _digest(client_id, secret, ""))
    with _lock:
        for key in keys:
            _verified[key] = time.monotonic()
            _verified.move_to_end(key)
        while len(_verified) > settings.BOUNCER_OAUTH["VERIFIED_SECRETS_MAX"]:
            _verified.popitem(last=False)


def client_secret_verified_lately(*, client_id: str, secret: str) -> bool:
    """Whether this pair verified in this process lately, whatever the stored hash is now.

    Only for the throttles (bouncer/oauth/throttling.py), which decide before
    the application is read: such a pair is no guess, so it need not be
    reserved a place in the failure count, nor refused while guessers hold
    the count up. Authentication still checks it against the stored hash (a
    rotated secret fails and is counted then).
    """
    return client_secret_known(client_id=client_id, secret=secret, stored_hash="")


def client_secrets_forget() -> None:
    """Empty the memory (tests; a process forgets on restart anyway)."""
    with _lock:
        _verified.clear()
