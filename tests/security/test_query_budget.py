"""Query budget of the hot path, ``GET /api/accounts/profile/``, per auth class.

With the auth cache on (production with Redis): no query at all once warm —
the session, the token row and the user come from the cache. With it off:
one query (the user for a session; the token joined with its user, for a
DRF token and an OAuth2 access token alike).
Basic always loads the user to check the password.
"""

import pytest
from django.test import override_settings

from tests.conftest import basic_client, oauth2_client, session_client, token_client

pytestmark = pytest.mark.django_db

URL = "/api/accounts/profile/"


@pytest.fixture(params=[300, 0], ids=["auth_cache_on", "auth_cache_off"])
def auth_cache(request):
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=request.param):
        yield request.param


@pytest.mark.parametrize("factory", [session_client, token_client, oauth2_client], ids=["session", "token", "oauth2"])
def test_profile_query_budget(user, auth_cache, factory, django_assert_num_queries):
    client = factory(user)
    client.get(URL)  # warm: the first read fills the caches
    with django_assert_num_queries(0 if auth_cache else 1):
        assert client.get(URL).status_code == 200


def test_basic_profile_costs_one_query(user, auth_cache, django_assert_max_num_queries):
    client = basic_client(user)
    with django_assert_max_num_queries(1):
        assert client.get(URL).status_code == 200


def test_anonymous_profile_costs_no_query(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        assert api.get(URL).status_code == 401
