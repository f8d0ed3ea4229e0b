"""Prometheus metrics: the one place they are defined, counted and served (docs/operations.md#metrics).

prometheus_client keeps the numbers. Under gunicorn (``gunicorn.conf.py``)
it runs in its multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a
directory where every worker keeps its counts in memory-mapped files, and a
scrape sums them, so ``/metrics`` gives the same totals whichever worker
answers. Without it (runserver, the tests) the process's own registry is
served. prometheus_client reads the variable itself, when it is imported;
``settings.BOUNCER_METRICS["MULTIPROC_DIR"]`` (the same variable, through
``config/settings/env.py``) tells the view which of the two to serve.

Where the numbers come from:

- security events: ``audit_event_count``, called by ``bouncer.audit.services.audit_log``
  for every audit row (``audit_record``, and the JWT refresh's one-statement
  path, which writes its row inside its own SQL). One place decides what an
  event counts as (``_count_event``): sign-ins, credentials issued and revoked,
  refreshes, reuse detections, lockouts, second steps.
- sessions issued: Django's ``user_logged_in`` signal (every session sign-in calls ``login()``).
- refreshes refused: ``refresh_rejected`` (the JWT service, the OAuth2 validator).
- throttled requests: ``throttled`` (``bouncer/core/throttling.throttle_hit``, which every throttle uses).
- failed calls to the database or the cache: ``metrics_dependency_error``.
- request latency: ``MetricsMiddleware`` (outermost), labelled by URL *pattern*.

Every counting function is cheap and never raises: a metric must not break
the request it describes. Label values are closed sets (the audit vocabulary,
URL patterns, throttle scopes), never user input, so the number of series is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from bouncer.core.http import client_ip

logger = logging.getLogger(__name__)

# --- the metrics ------------------------------------------------------------------
# Names, labels and meanings are listed in docs/operations.md ("Metrics"); keep both in step.

SIGNINS = Counter(
    "bouncer_signins_total",
    "Sign-ins by way in (method) and outcome (succeeded, failed, locked).",
    ["method", "outcome"],
)
CREDENTIALS_ISSUED = Counter(
    "bouncer_credentials_issued_total",
    "Credentials issued, by kind (session, token, jwt, oauth2); refreshes not included.",
    ["kind"],
)
CREDENTIALS_REVOKED = Counter(
    "bouncer_credentials_revoked_total",
    "Credentials revoked (logout, revocation, password change, reuse detection ...), by kind.",
    ["kind"],
)
REFRESHES = Counter(
    "bouncer_refreshes_total",
    "Refresh-token requests by kind (jwt, oauth2) and outcome (rotated, grace, reuse, rejected).",
    ["kind", "outcome"],
)
REUSE_DETECTIONS = Counter(
    "bouncer_reuse_detections_total",
    "Replayed single-use secrets whose sign-in was revoked: jwt and oauth2 refresh tokens, oauth2_code authorization codes.",
    ["kind"],
)
LOCKOUTS = Counter("bouncer_lockouts_total", "Accounts locked after too many failed sign-ins, by way in.", ["method"])
THROTTLED = Counter("bouncer_throttled_requests_total", "Requests refused by a throttle (429), by throttle scope.", ["scope"])
MFA_CHALLENGES = Counter(
    "bouncer_mfa_challenges_total",
    "Answers to a second-factor challenge by method (totp, recovery_code, webauthn) and outcome (succeeded, failed).",
    ["method", "outcome"],
)
AUDIT_EVENTS = Counter("bouncer_audit_events_total", "Audit rows written, by action (the audit vocabulary).", ["action"])
DEPENDENCY_ERRORS = Counter(
    "bouncer_dependency_errors_total", "Failed calls to a dependency (database, cache).", ["dependency"]
)
REQUEST_DURATION = Histogram(
    "bouncer_http_request_duration_seconds",
    "Time to answer a request, by URL pattern (route), method and status class (2xx ...).",
    ["route", "method", "status"],
)

#: Route label of a request no URL pattern matched (unknown paths, the API's catch-all 404).
UNMATCHED = "unmatched"
#: Route label of static files (WhiteNoise answers them before URL resolution).
STATIC = "static"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DEPENDENCIES = ("database", "cache")

# Children resolved once: ``labels()`` takes a lock and builds its key on every call.
_DEPENDENCY_CHILDREN = {name: DEPENDENCY_ERRORS.labels(name) for name in DEPENDENCIES}
_CHILDREN: dict[tuple, object] = {}


def _child(metric, *values: str):
    """``metric.labels(*values)``, kept after the first use (label values are closed sets: the dict stays small).

    A race between two threads at a first use makes the same child twice; prometheus_client returns one object.
    """
    key = (id(metric), values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def _safely(count):
    """A counting function that logs and swallows its own failure (a metric never breaks a request)."""

    def wrapper(*args, **kwargs):
        try:
            count(*args, **kwargs)
        except Exception:  # noqa: BLE001
            logger.warning("metrics: %s failed", count.__name__, exc_info=True)

    wrapper.__name__ = count.__name__
    wrapper.__doc__ = count.__doc__
    return wrapper


def metrics_dependency_error(dependency: str) -> None:
    """Count one failed call to a dependency (``database`` or ``cache``; anything else counts as ``other``)."""
    try:
        child = _DEPENDENCY_CHILDREN.get(dependency)
        if child is None:
            child = DEPENDENCY_ERRORS.labels("other")
        child.inc()
    except Exception:  # noqa: BLE001 - called from error paths: must never raise
        pass


@_safely
def throttled(scope: str) -> None:
    """One request refused by the throttle of ``scope``."""
    _child(THROTTLED, scope).inc()


@_safely
def refresh_rejected(kind: str) -> None:
    """A refresh token refused for what it is (unknown, expired, revoked), not a replay: those are ``reuse``."""
    _child(REFRESHES, kind, "rejected").inc()


@_safely
def session_login_received(sender=None, **kwargs) -> None:
    """``user_logged_in``: a session was issued (every session sign-in calls ``login()``)."""
    _child(CREDENTIALS_ISSUED, "session").inc()


# --- security events, from the audit log ----------------------------------------------

#: Set on a request whose sign-in was counted (``login_succeeded``), so the credential
#: issued next in the same request (a JWT after a social sign-in) is not a second sign-in.
_SIGNIN_COUNTED = "_bouncer_metrics_signin_counted"
#: Kinds a ``token_issued``/``token_revoked`` row's ``method`` names.
TOKEN_KINDS = frozenset({"token", "jwt", "oauth2"})


def _amount(data: dict) -> int:
    """How many credentials one revocation row stands for: ``count``, or the OAuth2 clients, else one."""
    count = data.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    clients = data.get("client_ids")
    if isinstance(clients, list) and clients:
        return len(clients)
    return 1


def _signin_succeeded(request, method: str) -> None:
    # On Django's request, which a DRF Request wraps: services get one or the other.
    request = getattr(request, "_request", request)
    if request is not None and getattr(request, _SIGNIN_COUNTED, False):
        return
    _child(SIGNINS, method or "unknown", "succeeded").inc()
    if request is not None:
        setattr(request, _SIGNIN_COUNTED, True)


def _count_event(action: str, method: str, data: dict, request) -> None:
    """What one audit event counts as, beyond ``bouncer_audit_events_total``."""
    if action == "login_succeeded":
        _signin_succeeded(request, method)
    elif action == "login_failed":
        _child(SIGNINS, method or "unknown", "locked" if data.get("reason") == "locked" else "failed").inc()
    elif action == "account_locked":
        _child(LOCKOUTS, method or "unknown").inc()
    elif action == "token_issued":
        if method in TOKEN_KINDS:
            _child(CREDENTIALS_ISSUED, method).inc()
        # A DRF token or JWT sign-in has no login_succeeded row: the issue is its success
        # (docs/audit.md); for OAuth2 only the password grant is a sign-in (a code was
        # signed in for on the session login page, client credentials have no user).
        if method in ("token", "jwt") or (method == "oauth2" and data.get("grant_type") == "password"):
            _signin_succeeded(request, method)
    elif action == "token_refreshed":
        if method in ("jwt", "oauth2"):
            _child(REFRESHES, method, "grace" if data.get("grace") else "rotated").inc()
    elif action == "token_reuse_detected":
        if method in ("jwt", "oauth2"):
            _child(REFRESHES, method, "reuse").inc()
            _child(REUSE_DETECTIONS, method).inc()
            _child(CREDENTIALS_REVOKED, method).inc()
    elif action == "code_replayed":
        _child(REUSE_DETECTIONS, "oauth2_code").inc()
        _child(CREDENTIALS_REVOKED, "oauth2").inc()
    elif action == "token_revoked":
        if method in TOKEN_KINDS:
            _child(CREDENTIALS_REVOKED, method).inc(_amount(data))
    elif action == "logout":
        if method == "session":
            _child(CREDENTIALS_REVOKED, "session").inc(_amount(data))
    elif action in ("mfa_succeeded", "recovery_code_used", "mfa_failed"):
        factor = "recovery_code" if action == "recovery_code_used" else str(data.get("factor") or "unknown")
        _child(MFA_CHALLENGES, factor, "failed" if action == "mfa_failed" else "succeeded").inc()


@_safely
def audit_event_count(event, request=None) -> None:
    """Count one audit event (``bouncer.audit.services.audit_log`` calls this for every row written)."""
    action = str(event.action)
    _child(AUDIT_EVENTS, action).inc()
    _count_event(action, event.method or "", event.data if isinstance(event.data, dict) else {}, request)


# --- request latency ---------------------------------------------------------------


class MetricsMiddleware:
    """Request latency per route (outermost middleware, so it times everything).

    The route label is the URL *pattern* that matched (``api/accounts/sessions/<str:credential_id>/``),
    never the path, so ids in paths cannot grow the number of series; a
    path no pattern matched is ``unmatched``, a static file ``static``.
    Label children are kept in a dict after their first use: one lookup per request.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._children: dict[tuple[str, str, str], object] = {}

    def __call__(self, request):
        start = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            self._observe(request, status, time.perf_counter() - start)

    def _observe(self, request, status: int, seconds: float) -> None:
        try:
            key = (_route(request), request.method if request.method in METHODS else "other", f"{status // 100}xx")
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = REQUEST_DURATION.labels(*key)
            child.observe(seconds)
        except Exception:  # noqa: BLE001
            logger.warning("metrics: request not observed", exc_info=True)


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        static = settings.STATIC_URL or ""
        if static and request.path.startswith("/" + static.lstrip("/")):
            return STATIC
        return UNMATCHED
    if match.url_name is None and match.func is _unknown_path():
        return UNMATCHED
    return match.route or UNMATCHED


@lru_cache(maxsize=1)
def _unknown_path():
    from bouncer.core.handlers import unknown_path

    return unknown_path


# --- GET /metrics -------------------------------------------------------------------


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def metrics_access_allowed(request: HttpRequest) -> bool:
    """Whether ``request`` may read /metrics: its address is allowed, or it sends the bearer secret.

    The address is ``client_ip``'s, so ``X-Forwarded-For`` counts only behind
    a proxy (``BOUNCER_BEHIND_PROXY``). The secret is compared in constant time.
    With neither configured nobody is allowed.
    """
    conf = settings.BOUNCER_METRICS
    token = conf.get("TOKEN") or ""
    if token:
        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        # Digests of equal length, so not even the secret's length shows in the time taken.
        if scheme.lower() == "bearer" and hmac.compare_digest(_digest(value.strip()), _digest(token)):
            return True
    allowed = tuple(conf.get("ALLOW_IPS") or ())
    if allowed:
        address = client_ip(request)
        if address is not None:
            parsed = ipaddress.ip_address(address)
            return any(parsed in network for network in _networks(allowed))
    return False


def metrics_exposition() -> bytes:
    """The text exposition: every worker's numbers summed (multiprocess mode), else this process's."""
    directory = settings.BOUNCER_METRICS.get("MULTIPROC_DIR") or ""
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@csrf_exempt
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` for Prometheus; 404, like any unknown path, to everyone not allowed.

    A plain Django view: not in the OpenAPI schema, not under the API's throttles.
    The access check comes first, so even the method is not revealed to a stranger.
    """
    if not metrics_access_allowed(request):
        raise Http404()
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
