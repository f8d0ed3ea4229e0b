"""The one place that decides the shape of API errors.

Services raise ``DomainError`` subclasses (no HTTP in them); DRF raises its own
``APIException``s. Both become JSON here. Anything else under ``/api/`` that
escapes a view is turned into JSON by ``bouncer.core.handlers``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


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


class InvalidCredentials(DomainError):
    """Same body for unknown user, wrong password and inactive user."""

    code = "invalid_credentials"
    default_detail = "Invalid credentials"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, InvalidCredentials):
        # SPEC.md keeps tutorial 000's body for a failed login verbatim.
        response = Response({"error": exc.detail}, status=exc.status_code)
        if exc.www_authenticate:
            response["WWW-Authenticate"] = exc.www_authenticate
        return response
    if isinstance(exc, DomainError):
        body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail, "code": exc.code}
        response = Response(body, status=exc.status_code)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        if exc.www_authenticate:
            response["WWW-Authenticate"] = exc.www_authenticate
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large.", "code": "too_large"}, status=413)
    if isinstance(exc, exceptions.ParseError):
        # DRF echoes the parser's message, which for JSON includes text of the
        # body; answer a stable message instead.
        return Response({"detail": "Malformed request body.", "code": "parse_error"}, status=400)
    return exception_handler(exc, context)
