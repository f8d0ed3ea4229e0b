"""The HTML sign-in page (/accounts/login/) and sign-out (/accounts/logout/), without a server."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
RELAXED_THROTTLES = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}


def csrf_browser() -> tuple[Client, str]:
    """A client that enforces CSRF like a browser does, and the token from the page."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(LOGIN)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return browser, token


def sign_in(browser: Client, token: str, username="alice", password=PASSWORD, next_url=None, **extra):
    data = {"csrfmiddlewaretoken": token, "username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return browser.post(LOGIN, data, **extra)


def test_page_has_a_label_for_every_input_and_no_cache(db):
    response = Client().get(LOGIN, {"next": "/o/authorize/?client_id=x"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="en"' in html and "bouncer/bouncer.css" in html
    for name in ("username", "password"):
        assert f'<label for="id_{name}">' in html and f'id="id_{name}"' in html
    assert 'autocomplete="current-password"' in html
    assert 'name="next" value="/o/authorize/?client_id=x"' in html
    assert "no-store" in response["Cache-Control"]


def test_success_redirects_to_a_safe_next_and_rotates_the_session(user):
    browser, token = csrf_browser()
    browser.session.save()
    before = browser.cookies["sessionid"].value if "sessionid" in browser.cookies else None
    response = sign_in(browser, token, next_url="/o/authorize/?client_id=abc&scope=read")
    assert response.status_code == 302
    assert response["Location"] == "/o/authorize/?client_id=abc&scope=read"
    assert browser.cookies["sessionid"].value != before
    assert browser.cookies["sessionid"]["httponly"]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, user=user, method="session").count() == 1
    # The session works on the API too.
    assert browser.get("/api/accounts/profile/").json()["username"] == "alice"


def test_success_without_next_goes_to_the_authorized_applications(user):
    browser, token = csrf_browser()
    response = sign_in(browser, token)
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_REDIRECT_URL


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example.com/",
        "//evil.example.com/",
        "///evil.example.com/",
        "http://evil.example.com/o/authorize/",
        "https:evil.example.com",
        "/\\evil.example.com",
        "\\\\evil.example.com",
        "javascript:alert(1)",
        " https://evil.example.com",
    ],
)
def test_open_redirect_next_is_refused(user, next_url):
    browser, token = csrf_browser()
    response = sign_in(browser, token, next_url=next_url)
    assert response.status_code == 302
    assert response["Location"] == settings.LOGIN_REDIRECT_URL
    # Refused on the page too: the hidden field never carries it.
    page = browser.get(LOGIN, {"next": next_url})
    assert "evil.example.com" not in page.content.decode() and "javascript:" not in page.content.decode()


def test_absolute_next_on_this_host_is_kept(user):
    browser, token = csrf_browser()
    response = sign_in(browser, token, next_url="http://testserver/o/authorized_tokens/")
    assert response["Location"] == "http://testserver/o/authorized_tokens/"


def test_failure_is_one_generic_error_for_every_cause(failed_credentials):
    username, password = failed_credentials
    browser, token = csrf_browser()
    response = sign_in(browser, token, username=username, password=password, next_url="/o/authorized_tokens/")
    assert response.status_code == 400
    html = response.content.decode()
    assert "The username or password is not correct." in html
    assert 'role="alert"' in html
    assert "inactive" not in html.lower() and "does not exist" not in html
    assert password not in html  # the password is never echoed back
    assert 'name="next" value="/o/authorized_tokens/"' in html  # next survives the retry
    assert "sessionid" not in response.cookies or not response.cookies["sessionid"].value
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username=username, method="session").count() == 1


def test_failure_pages_are_identical_for_unknown_user_and_wrong_password():
    make_user("alice")
    bodies = []
    for username in ("alice", "nobody"):
        browser, token = csrf_browser()
        html = sign_in(browser, token, username=username, password="wrong-password-1").content.decode()
        html = re.sub(r'value="[^"]*"', 'value=""', html)  # csrf token and the typed username differ
        bodies.append(html.replace(username, "USERNAME"))
    assert bodies[0] == bodies[1]


def test_missing_fields_are_a_400_with_field_errors(user):
    browser, token = csrf_browser()
    response = browser.post(LOGIN, {"csrfmiddlewaretoken": token})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 2
    assert not AuditEvent.objects.exists()


def test_csrf_token_is_required(user):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_lockout_answers_a_429_page_even_for_the_right_password(user):
    browser, token = csrf_browser()
    codes = [sign_in(browser, token, password="wrong-password-1").status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    locked = sign_in(browser, token)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert "Too many sign-in attempts" in locked.content.decode()
    assert "try again in 10 minutes" in locked.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice").count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()


def test_per_address_throttle_answers_a_429_page(user):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min", "login_account": "1000/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        browser, token = csrf_browser()
        codes = [sign_in(browser, token, username=f"user{i}", password="x").status_code for i in range(3)]
        refused = sign_in(browser, token)
    assert codes == [400, 400, 400]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in refused.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()


def test_per_account_throttle_counts_the_page_and_the_json_login_together(user):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "1000/min", "login_account": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        Client().post("/api/accounts/login/", {"username": "alice", "password": "x"}, content_type="application/json")
        browser, token = csrf_browser()
        assert sign_in(browser, token, password="x").status_code == 400
        assert sign_in(browser, token, username="ALICE").status_code == 429


def test_logout_is_post_only_and_ends_the_session(user):
    browser, token = csrf_browser()
    assert sign_in(browser, token).status_code == 302
    assert browser.get(LOGOUT).status_code == 405
    assert browser.get("/api/accounts/profile/").status_code == 200  # still signed in
    page = browser.get(LOGIN)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = browser.post(LOGOUT, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_URL
    assert browser.get("/api/accounts/profile/").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, user=user).count() == 1
    assert "You are signed out." in browser.get(LOGIN).content.decode()


def test_logout_needs_the_csrf_token(user):
    browser, token = csrf_browser()
    sign_in(browser, token)
    assert browser.post(LOGOUT).status_code == 403
    assert browser.get("/api/accounts/profile/").status_code == 200


def test_authorize_sends_a_signed_out_user_to_the_sign_in_page(db):
    response = Client().get("/o/authorize/", {"client_id": "abc", "response_type": "code"})
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL + "?next=/o/authorize/")
