"""Social sign-in in the browser: /accounts/<provider>/login/ → provider → callback → signed in.

Django's test client is the browser; GitHub answers with recorded bodies
(``browser_support.py``). Every refusal must be a page a person can act on,
with a 4xx status, nothing signed in and nothing changed.
"""

from __future__ import annotations

import datetime

import pytest
import requests
import time_machine
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.social.browser_support import (
    GITHUB_BAD_CODE,
    GITHUB_TOKEN_URL,
    GITHUB_USER_URL,
    callback,
    github,
    github_app,
    github_user,
    provider_calls,
    start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return github_app()


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=False)


def signed_in_user(client: Client):
    session = client.session
    return User.objects.filter(pk=session.get(SESSION_KEY)).first()


def test_new_person_signs_in_and_lands_on_next(app, browser):
    state = start(browser, next_url="/accounts/sessions/")
    with github():
        response = callback(browser, state)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"
    user = signed_in_user(browser)
    assert user is not None and user.username == "octo-cat" and user.email == "octocat@example.org"
    assert not user.has_usable_password()
    assert browser.get("/api/accounts/profile/").status_code == 200
    actions = list(AuditEvent.objects.filter(user=user).values_list("action", flat=True))
    assert sorted(actions) == sorted([AuditAction.USER_REGISTERED, AuditAction.SOCIAL_LINKED, AuditAction.LOGIN_SUCCEEDED])


def test_second_signin_uses_the_same_account(app, browser):
    with github():
        callback(browser, start(browser))
    other = Client()
    with github():
        response = callback(other, start(other))
    assert response.status_code == 302
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1
    assert signed_in_user(other) == signed_in_user(browser)


def test_signin_without_next_lands_on_the_default_page(app, browser):
    with github():
        response = callback(browser, start(browser))
    assert response["Location"] == settings.LOGIN_REDIRECT_URL


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_next_to_another_site_is_not_followed(app, browser, evil):
    with github():
        response = callback(browser, start(browser, next_url=evil))
    assert response.status_code == 302
    assert response["Location"] == settings.LOGIN_REDIRECT_URL


def test_next_to_oauth_authorize_continues_the_authorization(app, browser):
    authorize = "/o/authorize/?response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=read"
    with github():
        response = callback(browser, start(browser, next_url=authorize))
    assert response["Location"] == authorize


def test_session_id_changes_at_signin(app, browser):
    browser.get("/accounts/login/")
    state = start(browser)
    before = browser.cookies[settings.SESSION_COOKIE_NAME].value
    with github():
        callback(browser, state)
    after = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    # Whoever kept the old id (fixation) is not signed in.
    fixated = Client()
    fixated.cookies[settings.SESSION_COOKIE_NAME] = before
    assert fixated.get("/api/accounts/profile/").status_code in (401, 403)


def test_session_id_changes_when_the_same_user_signs_in_again(app, browser):
    with github():
        callback(browser, start(browser))
    before = browser.cookies[settings.SESSION_COOKIE_NAME].value
    with github():
        callback(browser, start(browser))
    assert browser.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert signed_in_user(browser) is not None


# Login CSRF: nothing starts without a POST carrying this site's CSRF token.


def test_get_on_provider_login_shows_a_button_and_starts_nothing(app, browser):
    response = browser.get("/accounts/github/login/?next=/accounts/sessions/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'method="post"' in body and "csrfmiddlewaretoken" in body and "Continue with GitHub" in body
    assert not any(key.startswith("socialaccount_state") for key in browser.session.keys())


def test_post_without_csrf_token_starts_nothing(app):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/accounts/github/login/")
    assert response.status_code == 403
    assert "github.com" not in response.get("Location", "")


# State: one use, this browser only.


def test_callback_in_another_browser_is_refused_before_the_provider_is_asked(app, browser):
    state = start(browser)
    other = Client()
    with github() as mock:
        assert callback(other, start(other)).status_code == 302
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 1  # the count sees calls: the 0 below means something
    User.objects.all().delete()
    victim = Client()
    with github() as mock:
        response = callback(victim, state)
    assert response.status_code == 400
    assert "started in another browser" in response.content.decode()
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 0
    assert signed_in_user(victim) is None and not User.objects.exists()


def test_replayed_callback_is_refused(app, browser):
    state = start(browser)
    with github():
        assert callback(browser, state).status_code == 302
    browser.post("/accounts/logout/")
    with github() as mock:
        replay = callback(browser, state)
    assert replay.status_code == 400
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 0
    assert signed_in_user(browser) is None


@pytest.mark.parametrize("minutes,status", [(9, 302), (11, 400)])
def test_state_expires_after_ten_minutes(app, browser, minutes, status):
    with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False) as clock:
        state = start(browser)
        clock.shift(datetime.timedelta(minutes=minutes))
        with github() as mock:
            assert callback(browser, state).status_code == status
    assert provider_calls(mock, GITHUB_TOKEN_URL) == (1 if status == 302 else 0)


def test_callback_without_state_is_refused(app, browser):
    start(browser)
    with github() as mock:
        response = callback(browser, None)
    assert response.status_code == 400
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 0


def test_forged_state_is_refused(app, browser):
    start(browser)
    with github() as mock:
        response = callback(browser, "forged-state")
    assert response.status_code == 400
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 0


# What the provider sends back.


def test_denied_consent_at_the_provider_shows_a_clear_page(app, browser):
    state = start(browser, next_url="/accounts/sessions/")
    response = callback(browser, state, code="", error="access_denied", error_description="The user has denied your application access.")
    assert response.status_code == 400
    body = response.content.decode()
    assert "You cancelled at GitHub" in body
    assert "/accounts/login/?next=%2Faccounts%2Fsessions%2F" in body  # start again, same destination
    assert signed_in_user(browser) is None
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, data__reason="provider_cancelled").count() == 1


def test_provider_error_text_is_not_shown(app, browser):
    state = start(browser)
    response = callback(browser, state, error="server_error", error_description="Call +1 555 0100 to unlock your account")
    assert response.status_code == 400
    body = response.content.decode()
    assert "555 0100" not in body
    assert "GitHub did not confirm who you are" in body


def test_expired_code_answered_by_github_shows_a_clear_page(app, browser):
    state = start(browser)
    with github(token=GITHUB_BAD_CODE) as mock:
        response = callback(browser, state)
    assert response.status_code == 400
    assert "GitHub did not confirm who you are" in response.content.decode()
    assert provider_calls(mock, GITHUB_USER_URL) == 0
    assert not User.objects.exists()


def test_provider_unreachable_shows_a_clear_page(app, browser):
    state = start(browser)
    with github() as mock:
        mock.replace("POST", GITHUB_TOKEN_URL, body=requests.ConnectionError("connection refused"))
        response = callback(browser, state)
    assert response.status_code == 400
    assert "could not be reached" in response.content.decode()


def test_provider_server_error_shows_a_clear_page(app, browser):
    state = start(browser)
    with github() as mock:
        mock.replace("GET", GITHUB_USER_URL, json={"message": "Server Error"}, status=502)
        response = callback(browser, state)
    assert response.status_code == 400
    assert not User.objects.exists()


@pytest.mark.parametrize("user", [["not", "an", "object"], {"login": "no-id"}, "just a string"], ids=["list", "no_id", "string"])
def test_provider_answer_bouncer_cannot_read_is_a_page_not_a_500(app, browser, user):
    state = start(browser)
    with github(user=user):
        response = callback(browser, state)
    assert response.status_code == 400
    assert "could not be read" in response.content.decode() or "did not confirm" in response.content.decode()
    assert not User.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, method="social").count() == 1


def test_very_long_code_is_refused_before_the_provider_is_asked(app, browser):
    state = start(browser)
    with github() as mock:
        response = callback(browser, state, code="A" * 100_000)
    assert response.status_code == 400
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 0
    assert not User.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, data__reason="callback_oversized", data__provider="github").count() == 1


# Who the provider says the person is: never a privilege.


def test_provider_asserting_admin_flags_gives_no_privilege(app, browser):
    state = start(browser)
    asserted = github_user(site_admin=True, is_staff=True, is_superuser=True, is_active=False, username="admin")
    with github(user=asserted):
        assert callback(browser, state).status_code == 302
    user = User.objects.get()
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)
    assert user.username == "octo-cat"
    assert browser.get("/admin/").status_code == 302  # not let into the admin


def test_unverified_email_of_an_existing_account_is_refused(app, browser):
    owner = make_user("owner")
    owner.email = "octocat@example.org"
    owner.save()
    state = start(browser)
    emails = [{"email": "octocat@example.org", "primary": True, "verified": False, "visibility": "private"}]
    with github(emails=emails):
        response = callback(browser, state)
    assert response.status_code == 409
    assert "Sign in to it, then link this provider" in response.content.decode()
    assert signed_in_user(browser) is None
    assert not SocialAccount.objects.exists()
    assert User.objects.get(pk=owner.pk).check_password(PASSWORD)


def test_verified_email_of_an_existing_account_links_it(app, browser):
    owner = make_user("owner")
    owner.email = "octocat@example.org"
    owner.save()
    with github():
        assert callback(browser, start(browser)).status_code == 302
    assert signed_in_user(browser) == owner
    assert SocialAccount.objects.get().user == owner


# The sign-in flow's rules hold on this way in too.


def _linked_user(browser, **changes) -> User:
    with github():
        callback(browser, start(browser))
    browser.post("/accounts/logout/")
    user = User.objects.get()
    for name, value in changes.items():
        setattr(user, name, value)
    user.save()
    return user


@override_settings(BOUNCER_LOCKOUT_ATTEMPTS=2)
def test_locked_account_is_refused(app, browser):
    user = _linked_user(browser)
    user.set_password(PASSWORD)
    user.save()
    for _ in range(2):
        Client().post("/accounts/login/", {"username": user.username, "password": "wrong-guess-1"})
    with github():
        response = callback(browser, start(browser))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert signed_in_user(browser) is None


def test_inactive_account_is_refused(app, browser):
    _linked_user(browser, is_active=False)
    with github():
        response = callback(browser, start(browser))
    assert response.status_code == 403
    assert "cannot be signed in to" in response.content.decode()
    assert signed_in_user(browser) is None


def test_incomplete_signin_signs_nobody_in(app, browser, monkeypatch):
    """A step this page cannot ask for (a second factor goes to the code page: tests/multifactor/test_signin_pages.py)."""
    from bouncer.users import signin

    _linked_user(browser)
    monkeypatch.setattr(signin, "signin_result", lambda *, user, amr: signin.SignInResult(user=user, pending_steps=("terms",), amr=amr))
    with github():
        response = callback(browser, start(browser))
    assert response.status_code == 401
    assert signed_in_user(browser) is None


def test_callbacks_from_one_address_are_throttled(app, browser):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "social": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        with github() as mock:
            codes = [callback(browser, start(browser)).status_code for _ in range(3)]
        assert codes[:2] == [302, 302]
        assert codes[2] == 429
        assert provider_calls(mock, GITHUB_TOKEN_URL) == 2  # the throttled one never reached GitHub


# Only configured providers, and nothing allauth would answer with a 500.


@pytest.mark.parametrize("path", [
    "/accounts/google/login/", "/accounts/facebook/login/callback/", "/accounts/oidc/nope/login/",
    "/accounts/oidc/nope/login/callback/", "/accounts/myspace/login/",
])
def test_unconfigured_provider_is_404(app, browser, path):
    assert browser.get(path).status_code == 404
    assert browser.post(path).status_code == 404


@pytest.mark.parametrize("path", ["/accounts/google/login/token/", "/accounts/facebook/login/token/"])
def test_script_token_endpoints_are_not_mounted(browser, path):
    SocialApp.objects.create(provider=path.split("/")[2], name="x", client_id="id", secret="s")
    assert browser.post(path, {"credential": "x", "access_token": "x"}).status_code == 404


def test_two_apps_for_one_provider_is_a_page_not_a_500(app, browser):
    github_app()
    response = browser.post("/accounts/github/login/")
    assert response.status_code == 400
    assert "not set up correctly" in response.content.decode()


def test_allauth_account_pages_are_not_mounted(browser):
    for path in ("/accounts/social/connections/", "/accounts/3rdparty/", "/accounts/social/login/cancelled/", "/accounts/email/"):
        assert browser.get(path).status_code == 404, path


# Applications the admin (or the environment) got wrong.


@pytest.mark.parametrize("path", ["/accounts/oidc/acme/login/", "/accounts/oidc/acme/login/callback/?code=x&state=y"])
def test_social_app_of_an_unknown_provider_is_404_not_500(browser, path):
    SocialApp.objects.create(provider="myspace", provider_id="acme", name="MySpace", client_id="id", secret="s")
    assert browser.get(path).status_code == 404
    assert browser.post(path).status_code == 404
    assert "MySpace" not in browser.get("/accounts/login/").content.decode()


def test_openid_connect_path_does_not_serve_another_providers_app(browser):
    SocialApp.objects.create(provider="github", provider_id="acme", name="GitHub", client_id="id", secret="s")
    assert browser.post("/accounts/oidc/acme/login/").status_code == 404


@pytest.mark.parametrize("taken", ["github", "google", "facebook", "openid_connect"])
def test_openid_connect_app_named_like_a_builtin_provider_is_not_offered(app, browser, taken):
    """Its accounts would be stored as (provider=<taken>, uid): an issuer the admin
    added could then sign in as anyone's GitHub identity by asserting their uid."""
    SocialApp.objects.create(provider="openid_connect", provider_id=taken, name="Evil ID", client_id="rp", secret="s",
                             settings={"server_url": "https://evil.example"})
    body = browser.get("/accounts/login/").content.decode()
    assert "Evil ID" not in body
    assert browser.post(f"/accounts/oidc/{taken}/login/").status_code == 404
    SocialAccount.objects.create(user=make_user("victim"), provider="github", uid="583231")
    with github() as mock:
        state = start(browser)  # the real GitHub button still works, with the real GitHub app
        assert callback(browser, state).status_code == 302
    assert provider_calls(mock, GITHUB_TOKEN_URL) == 1
