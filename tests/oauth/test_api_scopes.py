"""OAuth2 tokens on the API: read/write scopes, 401 vs 403, the cached hot path."""

import pytest
from django.test import override_settings
from oauth2_provider.models import AccessToken

from bouncer.articles.models import Article
from tests.conftest import token_client
from tests.oauth.conftest import bearer, password_tokens

pytestmark = pytest.mark.django_db

PROFILE = "/api/accounts/profile/"


@pytest.fixture
def article(user):
    return Article.objects.create(author=user, title="Alice's", body="text")


def token_for(user, app, scope):
    return password_tokens(app, user, scope=scope)["access_token"]


@pytest.mark.parametrize("scope, status", [("read", 200), ("write", 403), ("read write", 200)])
def test_profile_read_needs_read_scope(user, password_app, scope, status):
    assert bearer(token_for(user, password_app, scope)).get(PROFILE).status_code == status


@pytest.mark.parametrize("scope, status", [("read", 403), ("write", 200), ("read write", 200)])
def test_profile_edit_needs_write_scope(user, password_app, scope, status):
    response = bearer(token_for(user, password_app, scope)).patch(PROFILE, {"first_name": "Al"}, content_type="application/json")
    assert response.status_code == status
    user.refresh_from_db()
    assert user.first_name == ("Al" if status == 200 else "")


@pytest.mark.parametrize("scope, status", [("read", 200), ("write", 403)])
def test_articles_read_needs_read_scope(user, password_app, article, scope, status):
    client = bearer(token_for(user, password_app, scope))
    assert client.get("/api/articles/").status_code == status
    assert client.get(f"/api/articles/{article.pk}/").status_code == status


@pytest.mark.parametrize("scope, status", [("read", 403), ("write", 201)])
def test_articles_create_needs_write_scope(user, password_app, scope, status):
    response = bearer(token_for(user, password_app, scope)).post(
        "/api/articles/", {"title": "T", "body": "B"}, content_type="application/json")
    assert response.status_code == status
    assert Article.objects.count() == (1 if status == 201 else 0)


def test_write_scope_does_not_override_authorship(other_user, password_app, article):
    client = bearer(token_for(other_user, password_app, "read write"))
    response = client.patch(f"/api/articles/{article.pk}/", {"title": "Hacked"}, content_type="application/json")
    assert response.status_code == 403
    article.refresh_from_db()
    assert article.title == "Alice's"


def test_missing_scope_answers_insufficient_scope_challenge(user, password_app):
    response = bearer(token_for(user, password_app, "read")).delete("/api/articles/1/")
    assert response.status_code == 403
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge and 'scope="write"' in challenge
    assert response.json()["code"] == "insufficient_scope"


@pytest.mark.parametrize("value", ["Bearer not-a-token", "Bearer " + "x" * 600, "Bearer a b"])
def test_bad_bearer_token_is_401(db, value):
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION=value).get(PROFILE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_or_revoked_token_is_401(user, password_app):
    token = token_for(user, password_app, "read")
    assert bearer(token).get(PROFILE).status_code == 200
    AccessToken.objects.get().delete()
    assert bearer(token).get(PROFILE).status_code == 401


def test_deactivated_user_token_is_401_at_once(user, password_app):
    token = token_for(user, password_app, "read")
    assert bearer(token).get(PROFILE).status_code == 200
    user.is_active = False
    user.save()
    assert bearer(token).get(PROFILE).status_code == 401


def test_other_credentials_are_not_scope_checked(user):
    client = token_client(user)
    assert client.patch(PROFILE, {"first_name": "Al"}, format="json").status_code == 200


@pytest.fixture(params=[300, 0], ids=["auth_cache_on", "auth_cache_off"])
def auth_cache(request):
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=request.param):
        yield request.param


def test_oauth2_profile_query_budget(user, password_app, auth_cache, django_assert_num_queries):
    client = bearer(token_for(user, password_app, "read"))
    client.get(PROFILE)  # warm
    with django_assert_num_queries(0 if auth_cache else 1):
        assert client.get(PROFILE).status_code == 200
