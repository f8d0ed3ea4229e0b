"""The PostgreSQL backend's health check: no round trip for a live connection, and a
connection the server ended is seen as unusable before any query fails on it."""

import select
from unittest import mock

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_pg

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL backend (the suite runs on PostgreSQL in CI)")
    connection.ensure_connection()
    yield connection
    connection.close()  # the next test reconnects


def test_configured_engine_is_bouncers(postgresql):
    assert type(connections["default"]).__module__ == "bouncer.core.postgresql.base"


def test_live_connection_is_usable_without_a_query(postgresql):
    with mock.patch.object(django_pg.DatabaseWrapper, "is_usable", side_effect=AssertionError("SELECT 1 sent")):
        assert postgresql.is_usable() is True


def test_connection_ended_by_the_server_is_unusable_and_replaced(postgresql):
    pid = postgresql.connection.info.backend_pid
    other = postgresql.get_new_connection(postgresql.get_connection_params())
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    # The server's goodbye arrives on the socket (waiting on the socket, not sleeping).
    select.select([postgresql.connection.fileno()], [], [], 5)
    assert postgresql.is_usable() is False
    # What Django does at the start of a request with CONN_HEALTH_CHECKS: close and reconnect.
    postgresql.health_check_done = False
    postgresql.close_if_health_check_failed()
    with postgresql.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
