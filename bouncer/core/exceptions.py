"""The one place that decides the shape of API errors.

Services raise ``DomainError`` subclasses (no HTTP in them); DRF raises its own
``APIException``s; Django raises its request errors (``Http404``,
``TooManyFieldsSent``, ``RequestDataTooBig``, ...) in and outside DRF views.
All of them become JSON here, in one of two shapes:

- ``{"detail": ..., "code": ...}`` everywhere under ``/api/`` (and for the
  non-protocol answers under ``/o/``: 404, 403, 500). Two bodies are kept
  verbatim because SPEC.md fixes them: ``{"detail": "Authentication
  credentials were not provided."}`` for missing credentials and
  ``{"error": "Invalid credentials"}`` for a failed session login.
- RFC 6749 ``{"error": ..., "error_description": ...}`` with
  ``Cache-Control: no-store`` for the OAuth2 protocol's own errors under ``/o/``.

``bouncer.core.handlers`` and ``bouncer.core.middleware`` build their answers
with the functions below.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, status
from rest_framework.response import Response

OAUTH_PREFIX = "/o/"


class DomainError(Exception):
    """A rule of the domain refused the request; maps to ``status_code``."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    #: Seconds for a ``Retry-After`` header, when waiting helps.
    retry_after: int | None = None
    #: The ``WWW-Authenticate`` challenge of a 401, when there is one.
    www_authenticate: str | None = None

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.default_detail

    default_detail: Any = "Invalid request."


class ServiceUnavailable(DomainError):
    """A dependency (the database or the cache) did not answer: nothing was changed, try again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    retry_after = 5
    default_detail = "Service temporarily unavailable; try again shortly."

    def __init__(self, detail: Any = None, *, dependency: str = "cache") -> None:
        super().__init__(detail)
        self.dependency = dependency


def dependency_failed(exc: BaseException) -> str | None:
    """``"database"`` or ``"cache"`` when ``exc`` says that dependency is unreachable, else None.

    Database: Django's ``OperationalError`` and ``InterfaceError`` (a refused
    or cut connection, a server shutting down, a connect timeout; SQLite's
    "database is locked"). Cache: redis-py's connection and timeout errors, a
    read-only replica, and django-redis's wrapper of them. Anything else (an
    ``IntegrityError``, a bug) is not an outage and stays a 500.
    """
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, ServiceUnavailable):
        return exc.dependency
    if isinstance(exc, InterfaceError) or (isinstance(exc, OperationalError) and _database_unreachable(exc)):
        return "database"
    if isinstance(exc, CACHE_ERRORS):
        return "cache"
    return None


#: SQLSTATE classes of a server that is not there to answer: 08 connection
#: exception, 57P01-57P03 shutting down / crashed / not accepting connections
#: yet, 53300 too many connections.
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def _database_unreachable(exc: BaseException) -> bool:
    """An ``OperationalError`` of a database that cannot be reached now, not of one that
    answered with a fault (disk full, a bad query): only the former is worth a retry."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if cause is not None and type(cause).__module__.startswith("psycopg"):
        # No SQLSTATE: psycopg's own connection failure (refused, timed out, closed).
        return sqlstate is None or sqlstate.startswith(_UNREACHABLE_SQLSTATES)
    # SQLite: the single writer's lock held past the busy timeout.
    return "database is locked" in str(exc)


def _cache_errors() -> tuple[type[BaseException], ...]:
    try:
        from django_redis.exceptions import ConnectionInterrupted
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import ReadOnlyError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - both are dependencies
        return ()
    return (RedisConnectionError, RedisTimeoutError, ReadOnlyError, ConnectionInterrupted)


#: What the cache raises when Redis is unreachable (``dependency_failed``).
CACHE_ERRORS = _cache_errors()


def dependency_unavailable(exc: BaseException) -> tuple[int, str, str] | None:
    """(503, detail, code) for a dependency outage, counted once in the metrics; else None.

    The one place database and cache errors become an answer: the DRF
    handler, the middleware and the 500 handler all ask here.
    """
    dependency = dependency_failed(exc)
    if dependency is None:
        return None
    from bouncer.core.metrics import metrics_dependency_error

    if not getattr(exc, "_bouncer_counted", False):
        metrics_dependency_error(dependency)
        try:
            exc._bouncer_counted = True
        except AttributeError:  # pragma: no cover - exceptions take attributes
            pass
    return ServiceUnavailable.status_code, str(ServiceUnavailable.default_detail), ServiceUnavailable.code


def dependency_error_response(exc: BaseException, *, path: str = "") -> JsonResponse | None:
    """The 503 JSON answer (with ``Retry-After``) for a dependency outage, else None.

    Under ``/o/`` it is RFC 6749's ``temporarily_unavailable`` (the shape OAuth
    clients parse, as for a token request that kept deadlocking), elsewhere
    ``{"detail", "code": "service_unavailable"}``.
    """
    known = dependency_unavailable(exc)
    if known is None:
        return None
    if path.startswith(OAUTH_PREFIX):
        response = oauth_error("temporarily_unavailable", known[1], known[0])
    else:
        response = json_error(status=known[0], detail=known[1], code=known[2])
    response["Retry-After"] = str(ServiceUnavailable.retry_after)
    return response


class InvalidCredentials(DomainError):
    """Same body for unknown user, wrong password and inactive user."""

    code = "invalid_credentials"
    default_detail = "Invalid credentials"


def error_body(detail: Any, code: str) -> dict:
    """``{"detail", "code"}``: the body of every non-OAuth error."""
    return {"detail": detail, "code": code}


def json_error(*, status: int, detail: str, code: str) -> JsonResponse:
    """An error answer outside DRF (handlers, middleware), in the API's shape."""
    return JsonResponse(error_body(detail, code), status=status)


def status_error(status: int) -> JsonResponse:
    """An error for a bare status code: ``404`` → ``{"detail": "Not Found.", "code": "not_found"}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return json_error(status=status, detail=f"{phrase}.", code=phrase.lower().replace(" ", "_").replace("-", "_"))


def oauth_error(error: str, description: str, status: int) -> JsonResponse:
    """RFC 6749 section 5.2 error JSON, never cached."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


NOT_FOUND = (404, "Not found.", "not_found")
PERMISSION_DENIED = (403, "You do not have permission to perform this action.", "permission_denied")
BAD_REQUEST = (400, "Bad request.", "bad_request")
SERVER_ERROR = (500, "Internal server error.", "server_error")


def request_error(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, detail, code) for the request errors Django raises, else None.

    Django's own handler turns these into 400/403/404 pages; a view under
    ``/api/`` or ``/o/`` that lets one escape (a 5,000-field form, a body
    over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, a toolkit view's ``Http404``) must
    answer the same status as JSON, never 500.
    """
    if isinstance(exc, Http404):
        return NOT_FOUND
    if isinstance(exc, PermissionDenied):
        return PERMISSION_DENIED
    if isinstance(exc, RequestDataTooBig):
        return 413, "Request body too large.", "too_large"
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return 400, "Too many fields in the request.", "too_many_fields"
    if isinstance(exc, (SuspiciousOperation, BadRequest, MultiPartParserError)):
        return BAD_REQUEST
    return None


def request_error_response(*, path: str, exc: BaseException) -> JsonResponse | None:
    """The JSON answer for a Django request error on ``path``; RFC-shaped for a bad OAuth request."""
    known = request_error(exc)
    if known is None:
        return None
    status_code, detail, code = known
    if path.startswith(OAUTH_PREFIX) and status_code in (400, 413):
        return oauth_error(error="invalid_request", description=detail, status=status_code)
    return json_error(status=status_code, detail=detail, code=code)


#: RFC 7235: a 401 names how to authenticate. DRF adds the first authentication
#: class's challenge; a 401 raised by a view that has none (the JWT endpoints
#: refusing a token they were given) gets this one.
CHALLENGE = 'Bearer realm="bouncer"'
#: Codes of a token that was sent and refused: RFC 6750 3.1's ``error="invalid_token"``
#: (``token_missing`` is not one: no token was sent).
TOKEN_CODES = frozenset({"token_invalid", "token_expired", "token_not_yet_valid", "token_revoked", "token_wrong_type"})


def _with_challenge(response: Response, code: str | None) -> Response:
    if response.status_code == 401 and "WWW-Authenticate" not in response:
        error = ', error="invalid_token"' if code in TOKEN_CODES else ""
        response["WWW-Authenticate"] = CHALLENGE + error
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    outage = dependency_unavailable(exc)
    if outage is not None:
        # A database or cache outage, raised anywhere in the view (a throttle's
        # counter, a service's query, an invalidation that refused to commit).
        response = Response(error_body(outage[1], outage[2]), status=outage[0])
        response["Retry-After"] = str(ServiceUnavailable.retry_after)
        return response
    if isinstance(exc, InvalidCredentials):
        # SPEC.md keeps tutorial 000's body for a failed login verbatim.
        response = Response({"error": exc.detail}, status=exc.status_code)
        if exc.www_authenticate:
            response["WWW-Authenticate"] = exc.www_authenticate
        return _with_challenge(response, exc.code)
    if isinstance(exc, DomainError):
        body = exc.detail if isinstance(exc.detail, dict) else error_body(exc.detail, exc.code)
        response = Response(body, status=exc.status_code)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        if exc.www_authenticate:
            response["WWW-Authenticate"] = exc.www_authenticate
        return _with_challenge(response, body.get("code") if isinstance(body, dict) else exc.code)
    if isinstance(exc, exceptions.ParseError):
        # DRF echoes the parser's message, which for JSON includes text of the
        # body; answer a stable message instead.
        return Response(error_body("Malformed request body.", "parse_error"), status=400)
    if not isinstance(exc, (Http404, PermissionDenied)):  # DRF maps those two itself
        known = request_error(exc)
        if known is not None:
            return Response(error_body(known[1], known[2]), status=known[0])
    # Imported here: rest_framework.views loads the authentication classes at
    # import (APIView's class attributes), and they import this module.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if isinstance(exc, exceptions.AuthenticationFailed) and response is not None and isinstance(exc.detail, str):
        # Every authentication class's refusal in one shape, whichever class it
        # was (DRF's Basic and the Token class raise a bare message). A missing
        # credential (NotAuthenticated) keeps SPEC.md's exact body.
        response.data = error_body(str(exc.detail), exc.detail.code)
    elif (
        response is not None
        and not isinstance(exc, exceptions.NotAuthenticated)  # SPEC.md's exact body
        and isinstance(response.data, dict)
        and set(response.data) == {"detail"}
        and getattr(response.data["detail"], "code", None)
    ):
        # DRF's own bare-detail errors (NotFound for a page past the end or an
        # Http404 in a view, 405, 406, 415, PermissionDenied, throttled ...) in
        # the same shape as every other error.
        detail = response.data["detail"]
        response.data = error_body(str(detail), detail.code)
    return response
