"""JSON for errors under ``/api/`` and ``/o/``, in every mode.

Django answers an unhandled exception with an HTML page (a traceback page when
DEBUG is on). API clients get JSON instead; the traceback goes to the log.
Django's request errors (``Http404``, ``TooManyFieldsSent``,
``RequestDataTooBig``, ...) keep their 4xx status, as JSON. Error responses
that views outside DRF answer without a JSON body (a 405 from a POST-only
django-oauth-toolkit view, an HTML error page) are given one, keeping their
status and headers. Bodies are shaped by ``bouncer.core.exceptions``.

Under ``/o/`` the request's parameters are read here before the toolkit
sees them: a form over Django's limits, or a NUL byte in any parameter or in
the Basic client credentials (PostgreSQL refuses NUL in a text value, so the
client lookup would fail with a 500), is an RFC 6749 ``invalid_request``.

It also keeps credentials out of caches: every answer under ``/api/`` and
``/o/`` (tokens, the profile, session cookies, errors) and any other answer
that sets a cookie gets ``Cache-Control: no-store``, in this one place rather
than per view, so a new endpoint cannot forget it. A view that chose its own
caching for a cookie-less public answer (the JWKS) keeps it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from django.http import HttpRequest
from django.utils.cache import patch_cache_control

from bouncer.core import exceptions
from bouncer.core.handlers import JSON_PREFIXES

logger = logging.getLogger("bouncer.errors")


def _basic_credentials(request: HttpRequest) -> str:
    """The decoded Basic credentials, as the toolkit reads them (URL-decoded, RFC 6749 2.3.1)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return unquote(base64.b64decode(value.strip(), validate=False).decode("utf-8", "replace"))
    except (binascii.Error, ValueError):
        return ""


def oauth_input_refusal(request: HttpRequest):
    """An ``invalid_request`` answer for parameters no OAuth2 endpoint can take, else None."""
    try:
        values = [v for query in (request.GET, request.POST) for vs in query.lists() for v in vs[1]]
    except Exception as exc:  # noqa: BLE001 - only Django's request errors are answered here
        response = exceptions.request_error_response(path=request.path, exc=exc)
        if response is None:
            raise
        return response
    if any("\x00" in value for value in values) or "\x00" in _basic_credentials(request):
        return exceptions.oauth_error(error="invalid_request", description="A parameter contains a NUL byte.", status=400)
    return None


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        path = request.path
        api = path.startswith(JSON_PREFIXES)
        response = None
        if path.startswith(exceptions.OAUTH_PREFIX):
            response = oauth_input_refusal(request)
        if response is None:
            response = self.get_response(request)
        if api and response.status_code >= 400:
            content_type = response.get("Content-Type", "")
            if not content_type.startswith(("application/json", "application/problem+json")):
                response = self.json_error(response)
        if api or response.cookies:
            self.no_store(response)
        return response

    @staticmethod
    def no_store(response) -> None:
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"  # the common case: no parsing
        elif "no-store" not in response["Cache-Control"]:
            patch_cache_control(response, no_store=True)

    @staticmethod
    def json_error(response):
        replacement = exceptions.status_error(response.status_code)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement[header] = value
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(JSON_PREFIXES):
            return None  # HTML pages: bouncer.core.handlers.server_error answers a 503 page for an outage
        outage = exceptions.dependency_error_response(exception, path=request.path)
        if outage is not None:
            logger.warning("dependency unavailable on %s %s: %r", request.method, request.path, exception)
            return outage
        known = exceptions.request_error_response(path=request.path, exc=exception)
        if known is not None:
            return known
        logger.error("unhandled exception on %s %s", request.method, request.path, exc_info=exception)
        return exceptions.json_error(status=500, detail="Internal server error.", code="server_error")
