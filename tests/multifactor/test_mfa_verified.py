"""``MfaVerified``: the request's credential must come from a sign-in that proved a second factor.

One answer for every kind (``credential_amr``): allow/deny per kind, each
credential signed in through the real API.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from bouncer.tokens.opaque.cache import _key as token_cache_key
from bouncer.tokens.opaque.models import DeviceToken
from tests.conftest import token_client
from tests.multifactor.conftest import make_user, with_totp
from tests.multifactor.mfa_urls import MFA_ONLY
from tests.multifactor.signin import credential_client, mfa_signin, password_signin

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.multifactor.mfa_urls")]

REFUSAL = {"detail": "This requires a sign-in with a second factor. Sign in again with it.", "code": "mfa_verification_required"}


@pytest.mark.parametrize("kind", ["session", "token", "jwt"])
def test_a_credential_of_an_mfa_sign_in_passes(kind):
    user = make_user("alice")
    client = credential_client(user, kind=kind, app=with_totp(user))
    answer = client.get(MFA_ONLY)
    assert answer.status_code == 200 and answer.json() == {"username": "alice"}


@pytest.mark.parametrize("kind", ["session", "token", "jwt", "basic", "oauth2"])
def test_a_credential_of_a_password_sign_in_is_403(kind):
    user = make_user("alice")
    client = credential_client(user, kind=kind)
    assert client.get("/api/accounts/profile/").status_code == 200  # a good credential, just not MFA
    answer = client.get(MFA_ONLY)
    assert answer.status_code == 403
    assert answer.json() == REFUSAL


def test_no_credential_is_401_not_403(api):
    answer = api.get(MFA_ONLY)
    assert answer.status_code == 401 and "WWW-Authenticate" in answer


def test_an_oauth2_token_from_an_mfa_authorization_is_still_refused():
    """OAuth2 access tokens are delegated to an application: ``MfaVerified`` refuses every one
    (docs/oauth.md), even when the user proved a second factor to authorize it."""
    from tests.oauth.test_oidc_amr import authorized_with, code_app_openid, exchange_code

    user = make_user("alice")
    app = code_app_openid()
    session = APIClient()
    mfa_signin(session, user, with_totp(user), way="session")
    tokens = exchange_code(app, authorized_with(session, app, scope="openid read"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert client.get("/api/accounts/profile/").status_code == 200
    answer = client.get(MFA_ONLY)
    assert answer.status_code == 403 and answer.json()["code"] == "mfa_verification_required"


def test_a_session_signed_in_again_with_less_loses_mfa():
    """A sign-in inside a live session keeps the session's data; its amr must not survive into a
    sign-in that proved less (the factor was removed, then a password sign-in in the same browser)."""
    from allauth.mfa.models import Authenticator

    user = make_user("alice")
    client = credential_client(user, kind="session", app=with_totp(user))
    assert client.get(MFA_ONLY).status_code == 200
    Authenticator.objects.filter(user=user).delete()
    password_signin(client, user, way="session")
    assert client.get("/api/accounts/profile/").status_code == 200
    assert client.get(MFA_ONLY).status_code == 403


def test_a_token_issued_before_the_factor_stays_single_factor_in_the_cache():
    """A pre-MFA DRF token, cached, then the user enrols a factor: its entry (refilled from the
    row) still says ``pwd``; only a new sign-in through the second step gets ``mfa``."""
    user = make_user("alice")
    old = token_client(user)  # an unnamed device: the second step's "phone" token will not replace it
    assert old.get(MFA_ONLY).status_code == 403  # read once: now cached with its row
    app = with_totp(user)  # the user's save drops the token's entry (a tombstone for a few seconds)
    row = DeviceToken.objects.get(user=user)
    cache.delete(token_cache_key(row.digest))  # the tombstone gone: the next request fills the entry again
    assert old.get(MFA_ONLY).status_code == 403
    cached_token, _ = cache.get(token_cache_key(row.digest))
    assert cached_token[[f.attname for f in DeviceToken._meta.concrete_fields].index("amr")] == "pwd"
    new = APIClient()
    key = mfa_signin(new, user, app, way="token").json()["token"]
    new.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert new.get(MFA_ONLY).status_code == 200
    assert old.get(MFA_ONLY).status_code == 403


def test_a_cached_token_entry_without_the_amr_column_is_not_trusted():
    """An entry written before the column existed has one value fewer: it is a miss, and the row
    (with its amr) is read instead; it never restores a token whose amr nobody wrote."""
    user = make_user("alice")
    client = credential_client(user, kind="token")
    assert client.get(MFA_ONLY).status_code == 403
    row = DeviceToken.objects.get(user=user)
    key = token_cache_key(row.digest)
    token_values, user_values = cache.get(key)
    cache.set(key, (token_values[:-1], user_values))  # the shape before the column
    assert client.get("/api/accounts/profile/").status_code == 200
    assert client.get(MFA_ONLY).status_code == 403
