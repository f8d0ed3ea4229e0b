"""JSON for errors under ``/api/`` and ``/o/``, in every mode.

Django answers an unhandled exception with an HTML page (a traceback page when
DEBUG is on). API clients get JSON instead; the traceback goes to the log.
Error responses that views outside DRF answer without a JSON body (a 405
from a POST-only django-oauth-toolkit view, an HTML error page) are given
one, keeping their status and headers.

It also keeps credentials out of caches: every answer under ``/api/`` and
``/o/`` (tokens, the profile, session cookies, errors) and any other answer
that sets a cookie gets ``Cache-Control: no-store``, in this one place rather
than per view, so a new endpoint cannot forget it. A view that chose its own
caching for a cookie-less public answer (the JWKS) keeps it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control

from bouncer.core.handlers import JSON_PREFIXES

logger = logging.getLogger("bouncer.errors")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        api = request.path.startswith(JSON_PREFIXES)
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
        status = response.status_code
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        replacement = JsonResponse({"detail": f"{phrase}.", "code": code}, status=status)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement[header] = value
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(JSON_PREFIXES):
            return None
        logger.error("unhandled exception on %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
