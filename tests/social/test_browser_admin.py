"""The admin's Social applications, linked social accounts and social tokens."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib.auth.models import Permission
from django.test import Client

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

SECRET = "gh-secret-must-never-show-7f3a"
TOKEN = "gho_token_must_never_show_9c1d"


@pytest.fixture
def rows():
    app = SocialApp.objects.create(provider="github", name="GitHub", client_id="Iv1.8a61f9b3a7aba766", secret=SECRET)
    owner = make_user("octo")
    account = SocialAccount.objects.create(user=owner, provider="github", uid="583231", extra_data={"login": "octo-cat"})
    SocialToken.objects.create(app=app, account=account, token=TOKEN, token_secret="refresh-must-never-show")
    return app, account


def admin_client(*, superuser: bool = True, perms: tuple[str, ...] = ()) -> Client:
    user = make_user("root" if superuser else "helper", is_staff=True)
    if superuser:
        user.is_superuser = True
        user.save()
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    assert client.post("/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}).status_code == 302
    return client


def test_social_applications_list_shows_no_secret(rows):
    response = admin_client().get("/admin/socialaccount/socialapp/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "GitHub" in body and "Iv1.8a61f9b3a7aba766" in body
    assert SECRET not in body


def test_social_application_form_never_shows_the_secret_and_keeps_it_when_blank(rows):
    app, _ = rows
    client = admin_client()
    url = f"/admin/socialaccount/socialapp/{app.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and SECRET not in page.content.decode()
    response = client.post(url, {"provider": "github", "provider_id": "", "name": "GitHub login", "client_id": app.client_id,
                                 "secret": "", "key": "", "settings": "{}"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    app.refresh_from_db()
    assert app.name == "GitHub login" and app.secret == SECRET
    client.post(url, {"provider": "github", "provider_id": "", "name": "GitHub login", "client_id": app.client_id,
                      "secret": "rotated-secret", "key": "", "settings": "{}"})
    app.refresh_from_db()
    assert app.secret == "rotated-secret"


def test_added_social_application_is_offered_on_the_sign_in_page():
    client = admin_client()
    response = client.post("/admin/socialaccount/socialapp/add/", {"provider": "github", "provider_id": "", "name": "GitHub",
                                                                    "client_id": "new-client", "secret": "s3", "key": "", "settings": "{}"})
    assert response.status_code == 302
    assert SocialApp.objects.get().secret == "s3"
    assert "/accounts/github/login/" in Client().get("/accounts/login/").content.decode()


def test_linked_social_accounts_list_and_search_by_user(rows):
    client = admin_client()
    response = client.get("/admin/socialaccount/socialaccount/", {"q": "octo"})
    assert response.status_code == 200
    assert "583231" in response.content.decode()
    change = client.get(f"/admin/socialaccount/socialaccount/{rows[1].pk}/change/")
    assert change.status_code == 200


def test_social_tokens_show_no_token_and_cannot_be_edited(rows):
    client = admin_client()
    listing = client.get("/admin/socialaccount/socialtoken/")
    assert listing.status_code == 200
    assert TOKEN[:20] not in listing.content.decode()
    token = SocialToken.objects.get()
    page = client.get(f"/admin/socialaccount/socialtoken/{token.pk}/change/")
    assert page.status_code == 200 and TOKEN not in page.content.decode() and "refresh-must-never-show" not in page.content.decode()
    assert client.get("/admin/socialaccount/socialtoken/add/").status_code == 403


@pytest.mark.parametrize("path", ["socialapp", "socialaccount", "socialtoken"])
def test_staff_without_the_permission_cannot_see_social_admin(rows, path):
    client = admin_client(superuser=False)
    assert client.get(f"/admin/socialaccount/{path}/").status_code == 403
    assert SECRET not in client.get("/admin/").content.decode()


def test_staff_with_view_permission_sees_applications_but_cannot_change_them(rows):
    app, _ = rows
    client = admin_client(superuser=False, perms=("view_socialapp",))
    assert client.get("/admin/socialaccount/socialapp/").status_code == 200
    page = client.get(f"/admin/socialaccount/socialapp/{app.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert client.post(f"/admin/socialaccount/socialapp/{app.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SocialApp.objects.filter(pk=app.pk).exists()


@pytest.mark.parametrize("provider,provider_id", [("openid_connect", "github"), ("openid_connect", ""), ("github", "acme")])
def test_application_bouncer_would_not_use_is_refused_by_the_form(provider, provider_id):
    response = admin_client().post("/admin/socialaccount/socialapp/add/", {
        "provider": provider, "provider_id": provider_id, "name": "Evil ID", "client_id": "rp", "secret": "s", "key": "",
        "settings": '{"server_url": "https://evil.example"}',
    })
    assert response.status_code == 200
    assert "Bouncer would not use this application" in response.content.decode()
    assert not SocialApp.objects.exists()
