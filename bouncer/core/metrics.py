"""Prometheus metrics: the one place they are defined, counted and served (docs/operations.md).

Foundation stub: the issue-11 metrics work fills this module. The names below are
the interface other modules call; they must stay cheap and never raise.
"""

from __future__ import annotations


def metrics_dependency_error(dependency: str) -> None:
    """Count one failed call to a dependency (``database`` or ``cache``)."""


class MetricsMiddleware:
    """Request latency per route (outermost middleware, so it times everything)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
