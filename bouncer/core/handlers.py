"""JSON answers for errors raised outside DRF views (404, 500, 400, 403 CSRF).

Django's own handlers render HTML; under ``/api/`` and ``/o/`` clients expect
JSON (shaped by ``bouncer.core.exceptions``). Other paths (admin, docs) keep
Django's pages.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt

from bouncer.core import exceptions

JSON_PREFIXES = ("/api/", "/o/")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _answer(known: tuple[int, str, str]) -> HttpResponse:
    status, detail, code = known
    return exceptions.json_error(status=status, detail=detail, code=code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return _answer(exceptions.BAD_REQUEST)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return _answer(exceptions.PERMISSION_DENIED)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return _answer(exceptions.NOT_FOUND)
    return defaults.page_not_found(request, exception)


# The catch-all route for unknown paths under /api/ and /o/ (config/urls.py):
# no CSRF check, so a POST there is a 404 like any other method, not a 403
# that suggests the path exists. It never changes anything.
unknown_path = csrf_exempt(page_not_found)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its ``except`` block: the exception is at hand.
    # A database or cache outage raised outside a view (the session saved by
    # SessionMiddleware, a middleware's query) is a 503 to try again, not a 500.
    outage = exceptions.dependency_error_response(sys.exc_info()[1], path=request.path) if sys.exc_info()[1] is not None else None
    if outage is not None:
        if _wants_json(request):
            return outage
        response = HttpResponse(
            "<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1>"
            "<p>Please try again in a few seconds.</p>",
            status=503,
        )
        response["Retry-After"] = outage["Retry-After"]
        return response
    if _wants_json(request):
        return _answer(exceptions.SERVER_ERROR)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _wants_json(request):
        return exceptions.json_error(status=403, detail=f"CSRF Failed: {reason}", code="csrf_failed")
    return django_csrf_failure(request, reason)
