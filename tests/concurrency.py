"""Run callables at the same moment on threads of their own (database races).

Each thread gets its own database connection (Django opens one per thread)
and closes it when done, so on PostgreSQL the calls really race in separate
transactions; tests using this need ``django_db(transaction=True)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def at_once(tasks: list[Callable[[], Any]], *, timeout: float = 60) -> list[Any]:
    """Release every task together; their results in task order. A task that
    raised has the exception as its result (assert on it, or map it first)."""
    barrier = threading.Barrier(len(tasks))
    results: list[Any] = [None] * len(tasks)
    done = [False] * len(tasks)

    def worker(index: int, task: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            try:
                results[index] = task()
            except Exception as exc:  # noqa: BLE001 - handed to the test
                results[index] = exc
        finally:
            connection.close()
            done[index] = True

    threads = [threading.Thread(target=worker, args=(i, task)) for i, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert all(done), "a racing task did not finish in time"
    return results
