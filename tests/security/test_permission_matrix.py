"""One matrix over session | token | basic | oauth2: every protected endpoint, allow/deny pairs."""

import pytest

from bouncer.articles.models import Article
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_article(user):
    return Article.objects.create(author=user, title="Alice's", body="text")


def test_profile_allowed_for_any_signed_in_user(user, client_for):
    assert client_for(user).get("/api/accounts/profile/").status_code == 200


def test_user_list_allowed_for_staff_paginated(staff, client_for):
    for i in range(3):
        make_user(f"user{i}")
    response = client_for(staff).get("/api/accounts/users/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4
    assert set(body["results"][0]) == {"id", "username", "email", "is_staff"}


def test_user_list_denied_for_non_staff_with_403(user, client_for):
    response = client_for(user).get("/api/accounts/users/")
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response


def test_user_list_anonymous_is_401(api):
    assert api.get("/api/accounts/users/").status_code == 401


def test_articles_read_allowed_for_any_signed_in_user(other_user, alice_article, client_for):
    client = client_for(other_user)
    assert client.get("/api/articles/").json()["results"][0]["author"] == "alice"
    assert client.get(f"/api/articles/{alice_article.pk}/").status_code == 200


def test_articles_anonymous_read_is_401(api, alice_article):
    assert api.get("/api/articles/").status_code == 401
    assert api.get(f"/api/articles/{alice_article.pk}/").status_code == 401


def test_article_create_makes_caller_the_author(other_user, client_for):
    response = client_for(other_user).post("/api/articles/", {"title": "Bob's", "body": "hello", "author": 999}, format="json")
    assert response.status_code == 201
    assert response.json()["author"] == "bob"
    assert Article.objects.get().author == other_user


def test_article_edit_allowed_for_author(user, alice_article, client_for):
    client = client_for(user)
    assert client.patch(f"/api/articles/{alice_article.pk}/", {"title": "New"}, format="json").status_code == 200
    assert client.put(f"/api/articles/{alice_article.pk}/", {"title": "Newer", "body": "b"}, format="json").status_code == 200
    alice_article.refresh_from_db()
    assert alice_article.title == "Newer"


def test_article_edit_and_delete_denied_for_other_user(other_user, alice_article, client_for):
    client = client_for(other_user)
    assert client.patch(f"/api/articles/{alice_article.pk}/", {"title": "Hacked"}, format="json").status_code == 403
    assert client.delete(f"/api/articles/{alice_article.pk}/").status_code == 403
    alice_article.refresh_from_db()
    assert alice_article.title == "Alice's"


def test_article_edit_and_delete_allowed_for_staff(staff, alice_article, client_for):
    client = client_for(staff)
    assert client.patch(f"/api/articles/{alice_article.pk}/", {"title": "Moderated"}, format="json").status_code == 200
    assert client.delete(f"/api/articles/{alice_article.pk}/").status_code == 204
    assert not Article.objects.exists()


def test_article_delete_allowed_for_author(user, alice_article, client_for):
    assert client_for(user).delete(f"/api/articles/{alice_article.pk}/").status_code == 204


def test_article_anonymous_write_is_401_and_changes_nothing(api, alice_article):
    assert api.post("/api/articles/", {"title": "x", "body": "y"}, format="json").status_code == 401
    assert api.delete(f"/api/articles/{alice_article.pk}/").status_code == 401
    assert Article.objects.count() == 1


def test_articles_are_paginated(user, client_for):
    Article.objects.bulk_create(Article(author=user, title=f"t{i}", body="b") for i in range(25))
    page = client_for(user).get("/api/articles/").json()
    assert page["count"] == 25
    assert len(page["results"]) == 20
    assert page["next"].endswith("?page=2")


def test_article_missing_is_404_json(user, client_for):
    response = client_for(user).get("/api/articles/999999/")
    assert response.status_code == 404
    assert response.json()["detail"]
