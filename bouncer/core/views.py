"""The home page and the operational endpoints: liveness and readiness probes (plain Django, no DRF)."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

import bouncer
from bouncer.core.metrics import metrics_dependency_error

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The root URL: where to sign in and where the API is described (not a debug 404)."""
    return render(request, "bouncer/home.html", {"version": bouncer.__version__})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering, and which release it runs."""
    return JsonResponse({"status": "ok", "version": bouncer.__version__})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database unreachable", exc_info=True)
        metrics_dependency_error("database")
        return False


def _cache_ok() -> bool:
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
        return ok
    except Exception:  # noqa: BLE001
        logger.warning("readiness: cache unreachable", exc_info=True)
        metrics_dependency_error("cache")
        return False


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The database and the cache answer; else 503 so the node leaves rotation."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": {k: "ok" if v else "fail" for k, v in checks.items()}}
    return JsonResponse(body, status=200 if ready else 503)
