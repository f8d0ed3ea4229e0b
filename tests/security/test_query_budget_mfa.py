"""The hot path with MFA-verified credentials: the amr travels in the token or the cached row.

Beside test_query_budget.py (unchanged): a profile request with a JWT or a
DRF token from a sign-in through the second step costs what any other does
(no query with the auth cache, one without), and so does asking
``MfaVerified`` about it.
"""

import pytest
from django.core.cache import cache
from django.test import override_settings

from bouncer.users.usercache import user_cache_key
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.mfa_urls import MFA_ONLY
from tests.multifactor.signin import credential_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.multifactor.mfa_urls")]

PROFILE = "/api/accounts/profile/"


@pytest.fixture(params=[300, 0], ids=["auth_cache_on", "auth_cache_off"])
def auth_cache(request):
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=request.param):
        yield request.param


@pytest.mark.parametrize("path", [PROFILE, MFA_ONLY], ids=["profile", "mfa_verified"])
@pytest.mark.parametrize("kind", ["jwt", "token", "session"])
def test_an_mfa_verified_request_query_budget(auth_cache, kind, path, django_assert_num_queries):
    user = make_user("alice")
    app = with_totp(user)
    # Enrolling saved the user, which leaves a tombstone for its cached copy for a few seconds
    # (bouncer/core/modelcache.py, in Redis too): measured as once they are over, as for any user.
    cache.delete(user_cache_key(user.pk))
    client = credential_client(user, kind=kind, app=app)
    client.get(path)  # warm: the first read fills the caches
    with django_assert_num_queries(0 if auth_cache else 1):
        assert client.get(path).status_code == 200
