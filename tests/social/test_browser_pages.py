"""The sign-in page's provider buttons and the connected-accounts page."""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.social.browser_support import GITHUB_TOKEN_URL, callback, github, github_app, provider_calls, start

pytestmark = pytest.mark.django_db


def forms_of(body: str) -> list[str]:
    return re.findall(r"<form\b.*?</form>", body, flags=re.S)


def signed_in(user: User) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


# The sign-in page


def test_signin_page_offers_only_configured_providers():
    github_app()
    body = Client().get("/accounts/login/?next=/accounts/sessions/").content.decode()
    provider_forms = [form for form in forms_of(body) if "/accounts/github/login/" in form]
    assert len(provider_forms) == 1
    form = provider_forms[0]
    assert 'method="post"' in form and "csrfmiddlewaretoken" in form
    assert 'name="next" value="/accounts/sessions/"' in form
    assert "Continue with GitHub" in form
    for other in ("google", "facebook", "oidc"):
        assert f"/accounts/{other}/" not in body


def test_signin_page_without_providers_shows_no_provider_buttons():
    body = Client().get("/accounts/login/").content.decode()
    assert "Or sign in with" not in body
    # The password form and the "Sign in with a passkey" button's (BOUNCER_MFA_PASSKEY_LOGIN), no provider's.
    assert len(forms_of(body)) == 2 and "/accounts/login/passkey/" in body


def test_signin_page_links_to_signup_and_password_reset():
    body = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in body and 'href="/accounts/password/reset/"' in body


def test_provider_configured_in_the_environment_is_offered():
    providers = {**settings.SOCIALACCOUNT_PROVIDERS}
    providers["google"] = {**providers["google"], "APPS": [{"client_id": "g.apps", "secret": "s", "key": ""}]}
    providers["openid_connect"] = {
        **providers["openid_connect"],
        "APPS": [{"client_id": "rp", "secret": "s", "key": "", "provider_id": "acme", "name": "Acme ID",
                  "settings": {"server_url": "https://id.acme.test"}}],
    }
    with override_settings(SOCIALACCOUNT_PROVIDERS=providers):
        body = Client().get("/accounts/login/").content.decode()
        assert "/accounts/google/login/" in body and "Continue with Google" in body
        assert "/accounts/oidc/acme/login/" in body and "Continue with Acme ID" in body
        assert Client().get("/accounts/oidc/acme/login/").status_code == 200  # the confirm page, a POST button
    assert "/accounts/google/login/" not in Client().get("/accounts/login/").content.decode()


def test_social_app_of_an_unknown_provider_is_not_offered():
    SocialApp.objects.create(provider="myspace", name="MySpace", client_id="x", secret="y")
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert "MySpace" not in response.content.decode()


def test_sign_in_form_error_page_still_offers_providers():
    github_app()
    response = Client().post("/accounts/login/", {"username": "nobody", "password": "wrong-1"})
    assert response.status_code == 400
    assert "/accounts/github/login/" in response.content.decode()


# The connected-accounts page


def test_connections_page_needs_a_signed_in_user():
    response = Client().get("/accounts/connections/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_nav_links_to_connected_accounts(user):
    body = signed_in(user).get("/accounts/sessions/").content.decode()
    assert 'href="/accounts/connections/"' in body


def test_connections_page_lists_links_and_offers_linking(user):
    github_app()
    client = signed_in(user)
    body = client.get("/accounts/connections/").content.decode()
    assert "No provider is linked" in body
    link_forms = [form for form in forms_of(body) if "/accounts/github/login/?process=connect" in form]
    assert len(link_forms) == 1 and "csrfmiddlewaretoken" in link_forms[0] and "Link GitHub" in link_forms[0]


def test_linking_from_the_page_links_the_provider(user):
    github_app()
    client = signed_in(user)
    state = start(client, process="connect")
    with github():
        response = callback(client, state)
    assert response.status_code == 302 and response["Location"] == "/accounts/connections/"
    account = SocialAccount.objects.get()
    assert account.user == user
    body = client.get("/accounts/connections/").content.decode()
    assert "GitHub is linked" in body and "octo-cat" in body
    assert client.session[SESSION_KEY] == str(user.pk)  # still the same person
    assert AuditEvent.objects.filter(action=AuditAction.SOCIAL_LINKED, user=user, data__by="user").count() == 1


def test_linking_a_provider_account_of_someone_else_is_refused(user):
    github_app()
    with github():
        callback(first := Client(), start(first))
    owner = SocialAccount.objects.get().user
    client = signed_in(user)
    with github():
        response = callback(client, start(client, process="connect"))
    assert response.status_code == 409
    assert "already linked to another Bouncer account" in response.content.decode()
    assert SocialAccount.objects.get().user == owner


def test_linking_after_the_session_ended_links_nothing(user):
    github_app()
    client = signed_in(user)
    state = start(client, process="connect")
    # Signed out elsewhere (the session's user gone) while at the provider: the state stays in this session.
    session = client.session
    del session[SESSION_KEY]
    session.save()
    with github():
        response = callback(client, state)
    assert response.status_code == 401
    assert not SocialAccount.objects.exists()


def test_linking_cancelled_at_the_provider_goes_back_to_the_page(user):
    github_app()
    client = signed_in(user)
    state = start(client, process="connect")
    response = callback(client, state, code="", error="access_denied")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Linking did not complete" in body and "/accounts/connections/" in body


def _linked(user: User) -> SocialAccount:
    return SocialAccount.objects.create(user=user, provider="github", uid="583231", extra_data={"login": "octo-cat"})


def test_unlink_removes_the_link(user):
    github_app()
    account = _linked(user)
    client = signed_in(user)
    response = client.post(f"/accounts/connections/{account.pk}/unlink/")
    assert response.status_code == 302
    assert not SocialAccount.objects.exists()
    assert "unlinked" in client.get("/accounts/connections/").content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.SOCIAL_UNLINKED, user=user).count() == 1


def test_unlinking_the_last_way_to_sign_in_is_refused():
    github_app()
    with github():
        callback(client := Client(), start(client))
    account = SocialAccount.objects.get()
    response = client.post(f"/accounts/connections/{account.pk}/unlink/")
    assert response.status_code == 409
    assert "last way to sign in" in response.content.decode()
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.SOCIAL_UNLINKED).exists()


def test_unlinking_someone_elses_link_is_404(user, other_user):
    account = _linked(other_user)
    response = signed_in(user).post(f"/accounts/connections/{account.pk}/unlink/")
    assert response.status_code == 404
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_unlink_needs_post_and_csrf(user):
    account = _linked(user)
    client = signed_in(user)
    assert client.get(f"/accounts/connections/{account.pk}/unlink/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post(f"/accounts/connections/{account.pk}/unlink/").status_code == 403
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_signed_out_unlink_unlinks_nothing(user):
    account = _linked(user)
    response = Client().post(f"/accounts/connections/{account.pk}/unlink/")
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_connect_for_someone_signed_out_signs_nobody_in():
    """process=connect from a signed-out browser (a crafted form) must not sign in or link."""
    github_app()
    make_user("alice")
    client = Client()
    with github() as mock:
        response = callback(client, start(client, process="connect"))
    assert response.status_code == 401
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 1
    assert not SocialAccount.objects.exists() and SESSION_KEY not in client.session
