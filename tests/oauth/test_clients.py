"""Registering clients: the management command, the admin, the rules they share."""

import re
from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.test import Client
from oauth2_provider.models import Application

from bouncer.oauth.services import oauth_client_create
from tests.conftest import make_user
from tests.oauth.conftest import App, password_grant

pytestmark = pytest.mark.django_db


def create(*args) -> str:
    out = StringIO()
    call_command("oauth_create_client", *args, stdout=out)
    return out.getvalue()


def test_command_prints_secret_once_and_stores_it_hashed(user):
    output = create("Tutorial client", "--grant", "password")
    client_id = re.search(r"client_id=(\S+)", output).group(1)
    secret = re.search(r"client_secret=(\S+)", output).group(1)
    assert output.count(secret) == 1
    app = Application.objects.get(client_id=client_id)
    assert app.client_secret != secret and check_password(secret, app.client_secret)
    assert password_grant(App(app, secret), user).status_code == 200


def test_command_public_client_has_no_secret():
    output = create("SPA", "--type", "public", "--redirect-uri", "https://spa.example.com/cb")
    assert "client_secret=" not in output
    assert Application.objects.get().client_type == "public"


@pytest.mark.parametrize("args", [
    ("Bad", "--grant", "authorization-code"),  # no redirect URI
    ("Bad", "--type", "public", "--grant", "client-credentials"),
    ("Bad", "--redirect-uri", "https://a.example.com/cb#frag"),
])
def test_command_refuses_bad_client_and_creates_nothing(args):
    with pytest.raises(CommandError):
        create(*args)
    assert not Application.objects.exists()


def test_implicit_application_cannot_be_created():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        oauth_client_create(name="x", client_type="public", grant_type="implicit", redirect_uris="https://a.example.com/cb")
    assert not Application.objects.exists()


def test_admin_lists_oauth_models_and_never_shows_the_secret():
    admin = make_user("root", is_staff=True)
    admin.is_superuser = True
    admin.save()
    app, secret = oauth_client_create(name="Partner", client_type="confidential", grant_type="client-credentials")
    browser = Client()
    browser.force_login(admin)
    index = browser.get("/admin/").content.decode()
    for model in ("application", "accesstoken", "refreshtoken", "grant", "idtoken"):
        assert f"/admin/oauth2_provider/{model}/" in index
    page = browser.get(f"/admin/oauth2_provider/application/{app.pk}/change/").content.decode()
    assert secret not in page and app.client_secret not in page
    assert "stored hashed" in page
    listing = browser.get("/admin/oauth2_provider/application/").content.decode()
    assert secret not in listing and app.client_secret not in listing


def test_admin_refuses_implicit_grant(db):
    admin = make_user("root", is_staff=True)
    admin.is_superuser = True
    admin.save()
    browser = Client()
    browser.force_login(admin)
    response = browser.post("/admin/oauth2_provider/application/add/", {
        "name": "Old SPA", "client_id": "abc", "client_secret": "s" * 40, "client_type": "public",
        "authorization_grant_type": "implicit", "redirect_uris": "https://a.example.com/cb",
        "post_logout_redirect_uris": "", "allowed_origins": "", "algorithm": "",
    })
    assert response.status_code == 200  # form redisplayed with errors
    assert not Application.objects.exists()


def test_create_client_owner_is_found_like_a_sign_in_and_an_unknown_owner_is_refused():
    owner = make_user("Ärger")
    out = StringIO()
    call_command("oauth_create_client", "Owned", "--grant", "client-credentials", "--owner", "ärger", stdout=out)
    assert Application.objects.get(name="Owned").user == owner
    with pytest.raises(CommandError, match="No user"):
        call_command("oauth_create_client", "Orphan", "--grant", "client-credentials", "--owner", "nobody", stdout=StringIO())
    assert not Application.objects.filter(name="Orphan").exists()
