"""Django's PostgreSQL backend with a health check that costs no round trip.

With persistent connections and ``CONN_HEALTH_CHECKS``, Django runs
``SELECT 1`` before the first query of every request: one round trip, about
a twentieth of a JWT refresh (docs/performance.md). A connection the server
has ended (a restart, ``pg_terminate_backend``, an idle timeout) has already
said so: the server sends an error message and closes the socket, so the
socket is readable while no query is running. This checks that with a
zero-timeout ``select()`` and runs Django's ``SELECT 1`` only when the socket
has something to say (or the check itself fails). A connection cut without a
word (a network partition) fails its first query, as it could right after a
``SELECT 1`` as well; Django then discards it at the end of the request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return True if not readable else super().is_usable()
