"""Throttles of the /o/ endpoints that take a client secret, for views that are not DRF's.

django-oauth-toolkit's views are plain Django views, so DRF's throttling
never runs for them.

- ``/o/token/`` (``throttle_token_requests``): every request counts per
  client address (``OAuthTokenThrottle``, ``BOUNCER_THROTTLE_OAUTH_TOKEN``),
  and a failed client authentication also per claimed ``client_id`` (the
  same count as the two below).
  The password grant's per-account throttle and lockout are the sign-in
  flow's (``bouncer.users.signin``, reached from the validator's
  ``validate_user``), counted together with every other password sign-in of
  that username.
- ``/o/introspect/`` and ``/o/revoke_token/`` (``throttle_client_requests``):
  a resource server introspects on every API request it serves, so its
  successes must not be limited; what costs (an Argon2 hash and an audit row)
  is a failed client authentication. Those are counted per client address
  and per claimed ``client_id`` (``BOUNCER_THROTTLE_OAUTH_CLIENT``), and
  while either is over the rate every request is refused before any hash,
  except a (client id, secret) pair this process has seen verify lately.

They answer like RFC 6749 errors do, with ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import time
from functools import wraps
from urllib.parse import unquote_plus

from django.http import HttpRequest, JsonResponse

from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import oauth_error
from bouncer.core.http import client_bucket
from bouncer.core.throttling import Hit, OAuthTokenThrottle, throttle_count, throttle_hit, throttle_release, throttle_wait
from bouncer.oauth.clientauth import client_secret_verified_lately

CLIENT_SCOPE = "oauth_client"


def rate_limited(wait: int) -> JsonResponse:
    response = oauth_error("rate_limited", f"Too many requests. Retry in {wait} seconds.", 429)
    response["Retry-After"] = str(wait)
    return response


def client_credentials_presented(request: HttpRequest) -> tuple[str, str]:
    """(client_id, secret) as sent, Basic first, else the form body; empty strings when absent.

    Only to decide throttling and who may introspect; the toolkit still does
    the authentication itself.
    """
    kind, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if kind == "Basic" and value:
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return "", ""
        return unquote_plus(client_id), unquote_plus(secret)
    client_id, secret = request.POST.get("client_id", ""), request.POST.get("client_secret", "")
    return (client_id if isinstance(client_id, str) else ""), (secret if isinstance(secret, str) else "")


def _client_hit(client_id: str) -> Hit:
    """The per-client count: one key for a client id on every endpoint that checks its secret."""
    return Hit(CLIENT_SCOPE, "id:" + sha256_hex(client_id)[:32])


def throttle_token_requests(view_func):
    @wraps(view_func)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view_func(request, *args, **kwargs)
        wait = throttle_wait(request, [OAuthTokenThrottle])
        if wait:
            return rate_limited(wait)
        # A secret guessed here costs a hash like one at /o/introspect/: failed
        # client authentications count on the same per-client-id throttle, so
        # spreading guesses over addresses (or endpoints) does not help. Only
        # requests that present a secret are refused over it (a public
        # client's PKCE exchange never hashes one).
        client_id, secret = client_credentials_presented(request)
        hits = [_client_hit(client_id)] if client_id and secret else []
        return _count_failed_client_auth(request, hits, view_func, *args, known=_known(client_id, secret), **kwargs)

    return wrapped


def throttle_client_requests(view_func):
    @wraps(view_func)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view_func(request, *args, **kwargs)
        client_id, secret = client_credentials_presented(request)
        hits = [Hit(CLIENT_SCOPE, client_bucket(request) or "")]
        if client_id:
            hits.append(_client_hit(client_id))
        return _count_failed_client_auth(request, hits, view_func, *args, known=_known(client_id, secret), **kwargs)

    return wrapped


def _known(client_id: str, secret: str) -> bool:
    return bool(client_id and secret) and client_secret_verified_lately(client_id=client_id, secret=secret)


def _count_failed_client_auth(request, hits, view_func, *args, known: bool, **kwargs):
    """Refused while ``hits`` are over their rate; only a failed client authentication (401) counts.

    A secret not yet seen to verify is counted before the view runs and
    given back unless it answered 401: had it looked first and counted
    failures after, parallel guesses would all pass the look. A pair that
    verified lately in this process is no guess: it goes straight through
    (no cache round trip, and guessers holding the count up cannot lock the
    real client out) and counts only if it now fails (a rotated secret).
    """
    if known or not hits:
        response = view_func(request, *args, **kwargs)
        if hits and response.status_code == 401:
            throttle_count(hits)
        return response
    now = time.time()
    wait = throttle_hit(hits, now=now)
    if wait:
        return rate_limited(wait)
    response = view_func(request, *args, **kwargs)
    if response.status_code != 401:  # 401: the client did not authenticate
        throttle_release(hits, now=now)
    return response
