"""Query budget of the hot path, ``GET /api/accounts/profile/``, per auth class.

Session: one query for the user (the session comes from the cache after the
first read). Token: one query joining the token and its user. Basic: one
query for the user (plus the password hasher, which the benchmarks measure).
"""

import pytest

from tests.conftest import basic_client, session_client, token_client

pytestmark = pytest.mark.django_db

URL = "/api/accounts/profile/"


def test_session_profile_costs_one_query(user, django_assert_max_num_queries):
    client = session_client(user)
    client.get(URL)  # warm: the first read after login fills the session cache
    with django_assert_max_num_queries(1):
        assert client.get(URL).status_code == 200


def test_token_profile_costs_one_query(user, django_assert_max_num_queries):
    client = token_client(user)
    with django_assert_max_num_queries(1):
        assert client.get(URL).status_code == 200


def test_basic_profile_costs_one_query(user, django_assert_max_num_queries):
    client = basic_client(user)
    with django_assert_max_num_queries(1):
        assert client.get(URL).status_code == 200


def test_anonymous_profile_costs_no_query(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        assert api.get(URL).status_code == 401
