"""JSON for unhandled exceptions under ``/api/`` and ``/o/``, in every mode.

Django answers an unhandled exception with an HTML page (a traceback page when
DEBUG is on). API clients get JSON instead; the traceback goes to the log.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse

from bouncer.core.handlers import JSON_PREFIXES

logger = logging.getLogger("bouncer.errors")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(JSON_PREFIXES):
            return None
        logger.error("unhandled exception on %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
