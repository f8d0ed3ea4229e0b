"""One sign-in flow (issue 8 section 1): every way in is throttled, locked out and audited.

Each test is an attack that worked before the flow existed: the admin login
without a lock, Basic past a throttled account, unlimited old_password
guesses, a session id kept across a second login, a JWT failure answering
400, IPv6 addresses each getting their own throttle bucket.
"""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client, override_settings
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, session_client

pytestmark = pytest.mark.django_db

RELAXED = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}


def rates(**overrides):
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**RELAXED["DEFAULT_THROTTLE_RATES"], **overrides}}


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def admin_login(browser: Client, username: str, password: str, **extra):
    return browser.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **extra)


# --- the admin login ---------------------------------------------------------------------


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=5, BOUNCER_LOCKOUT_SECONDS=600)
def test_admin_login_wrong_passwords_lock_a_superuser():
    User.objects.create_superuser(username="root", email="root@example.com", password=PASSWORD)
    browser = Client()
    codes = [admin_login(browser, "root", f"wrong-{i}").status_code for i in range(5)]
    assert codes == [400] * 5  # the sign-in page's error page (the admin signs in there)
    locked = admin_login(browser, "root", PASSWORD)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert "Too many sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in browser.session
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username="root", method="admin").count() == 6
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="root").count() == 1


def test_admin_login_is_throttled_per_account_and_audits_success():
    User.objects.create_superuser(username="root", email="root@example.com", password=PASSWORD)
    with override_settings(REST_FRAMEWORK=rates(login_account="2/min")):
        for i in range(2):
            admin_login(Client(REMOTE_ADDR=f"10.3.0.{i}"), "root", "wrong")
        refused = admin_login(Client(REMOTE_ADDR="10.3.0.99"), "root", PASSWORD)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    browser = Client()
    assert admin_login(browser, "root", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, username="root", method="admin").count() == 1


# --- any caller of django.contrib.auth.authenticate() -----------------------------------


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_direct_authenticate_counts_failures_and_refuses_a_locked_account(user):
    for _ in range(3):
        assert authenticate(None, username="alice", password="wrong") is None
    assert authenticate(None, username="alice", password=PASSWORD) is None
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice").count() == 1
    api = APIClient()
    assert api.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json").status_code == 429


@override_settings(
    REST_FRAMEWORK=RELAXED,
    BOUNCER_LOCKOUT_ATTEMPTS=2,
    AUTHENTICATION_BACKENDS=["bouncer.users.backends.CachedModelBackend", "django.contrib.auth.backends.ModelBackend"],
)
def test_locked_account_does_not_fall_through_to_another_backend(user):
    for _ in range(2):
        authenticate(None, username="alice", password="wrong")
    assert authenticate(None, username="alice", password=PASSWORD) is None


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3)
def test_one_failed_api_login_counts_once(api, user):
    api.post("/api/accounts/login/", {"username": "alice", "password": "wrong"}, format="json")
    api.post("/api/auth-token/", {"username": "alice", "password": "wrong"}, format="json")
    assert api.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username="alice").count() == 2


# --- Basic --------------------------------------------------------------------------------


def test_basic_is_refused_while_the_account_is_throttled(api, user):
    with override_settings(REST_FRAMEWORK=rates(login_account="2/min")):
        for i in range(2):
            api.post("/api/accounts/login/", {"username": "alice", "password": "x"}, format="json", REMOTE_ADDR=f"10.4.0.{i}")
        response = api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_basic_failures_count_toward_the_lockout(api, user):
    codes = [api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", "wrong")).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username="alice", method="basic").count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice").count() == 1
    locked = api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert locked.status_code == 429 and locked["Retry-After"] == "600"
    assert api.post("/api/token/", {"username": "alice", "password": PASSWORD}, format="json").status_code == 429


def test_basic_successes_do_not_use_up_the_account_throttle(api, user):
    with override_settings(REST_FRAMEWORK=rates(login_account="2/min", login="2/min")):
        codes = [api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", PASSWORD)).status_code for _ in range(5)]
    assert codes == [200] * 5


# --- JWT obtain (hole 4.6) ------------------------------------------------------------------


def test_jwt_obtain_failure_is_401_with_a_challenge(api, failed_credentials):
    username, password = failed_credentials
    response = api.post("/api/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="bouncer"'
    assert response.json() == {"error": "Invalid credentials"}


# --- password change ------------------------------------------------------------------------


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_wrong_old_passwords_lock_the_account(user):
    client = session_client(user)
    codes = [
        client.post("/api/accounts/password/change/", {"old_password": f"guess-{i}", "new_password": "n3w-passw0rd-x"}, format="json").status_code
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice").count() == 1
    right = client.post("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": "n3w-passw0rd-x"}, format="json")
    assert right.status_code == 429
    assert APIClient().post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json").status_code == 429


def test_password_change_is_throttled_per_account(user):
    client = session_client(user)  # the sign-in is one attempt on the account too
    with override_settings(REST_FRAMEWORK=rates(login_account="4/min")):
        codes = [
            client.post("/api/accounts/password/change/", {"old_password": "guess", "new_password": "n3w-passw0rd-x"}, format="json").status_code
            for _ in range(4)
        ]
    assert codes == [400, 400, 400, 429]


# --- session rotation (hole 4.7, first half) ------------------------------------------------


def test_second_login_in_the_same_session_rotates_the_session_id(user):
    client = APIClient()
    body = {"username": "alice", "password": PASSWORD}
    assert client.post("/api/accounts/login/", body, format="json").status_code == 200
    first = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/api/accounts/login/", body, format="json").status_code == 200
    second = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert first != second
    stale = APIClient()
    stale.cookies[settings.SESSION_COOKIE_NAME] = first
    assert stale.get("/api/accounts/profile/").status_code == 401
    assert client.get("/api/accounts/profile/").status_code == 200


def test_second_sign_in_on_the_html_page_rotates_the_session_id(user):
    import re

    browser = Client()
    for _ in range(2):
        page = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
        before = browser.cookies.get(settings.SESSION_COOKIE_NAME)
        before = before.value if before else None
        response = browser.post("/accounts/login/", {"csrfmiddlewaretoken": token, "username": "alice", "password": PASSWORD})
        assert response.status_code == 302
        assert browser.cookies[settings.SESSION_COOKIE_NAME].value != before
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert stale.get("/api/accounts/profile/").status_code == 401


# --- IPv6 /64 (hole 4.12) ----------------------------------------------------------------------


def test_ipv6_addresses_of_one_64_share_a_throttle_bucket(api, user):
    with override_settings(REST_FRAMEWORK=rates(login="3/min")):
        codes = [
            api.post("/api/accounts/login/", {"username": f"u{i}", "password": "x"}, format="json", REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}").status_code
            for i in range(4)
        ]
        other = api.post("/api/accounts/login/", {"username": "u9", "password": "x"}, format="json", REMOTE_ADDR="2001:db8:1:3::1")
    assert codes == [400, 400, 400, 429]
    assert other.status_code == 400
    # The audit keeps the full address: only the throttle buckets by /64.
    assert AuditEvent.objects.filter(ip_address="2001:db8:1:2::3").count() == 1


def test_ipv4_mapped_ipv6_is_the_ipv4_address(api, user):
    with override_settings(REST_FRAMEWORK=rates(login="2/min")):
        api.post("/api/accounts/login/", {"username": "u1", "password": "x"}, format="json", REMOTE_ADDR="192.0.2.7")
        api.post("/api/accounts/login/", {"username": "u2", "password": "x"}, format="json", REMOTE_ADDR="::ffff:192.0.2.7")
        refused = api.post("/api/accounts/login/", {"username": "u3", "password": "x"}, format="json", REMOTE_ADDR="192.0.2.7")
    assert refused.status_code == 429


# --- OAuth2: the password grant, introspection and revocation (hole 4.2) -----------------------


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=2, BOUNCER_LOCKOUT_SECONDS=600)
def test_password_grant_of_a_locked_account_is_429_with_retry_after(user):
    from tests.oauth.conftest import make_app, password_grant

    app = make_app("password")
    assert [password_grant(app, user, password="wrong").status_code for _ in range(2)] == [400, 400]
    locked = password_grant(app, user)
    assert locked.status_code == 429
    assert locked.json()["error"] == "rate_limited"
    assert locked["Retry-After"] == "600"
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice", method="oauth2").count() == 1


def test_public_client_cannot_introspect_with_only_its_client_id(user):
    from tests.oauth.conftest import make_app, password_tokens, post_form

    tokens = password_tokens(make_app("password"), user)
    public = make_app("authorization-code", client_type="public")
    for body in ({"client_id": public.client_id}, {"client_id": public.client_id, "client_secret": ""}):
        response = post_form("/o/introspect/", {"token": tokens["access_token"], **body})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "active" not in response.json()
    as_basic = post_form("/o/introspect/", {"token": tokens["access_token"]},
                         HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{public.client_id}:".encode()).decode())
    assert as_basic.status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_AUTH_FAILED).count() == 3


def test_confidential_client_still_introspects(user):
    from tests.oauth.conftest import make_app, password_tokens, post_form

    tokens = password_tokens(make_app("password"), user)
    resource_server = make_app("client-credentials")
    response = post_form("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=resource_server.basic())
    assert response.status_code == 200 and response.json()["active"] is True


@pytest.mark.parametrize("path", ["/o/introspect/", "/o/revoke_token/"])
def test_client_secret_guessing_is_throttled_per_client_id_across_addresses(db, path):
    from tests.oauth.conftest import make_app, post_form

    target = make_app("client-credentials")
    with override_settings(REST_FRAMEWORK=rates(oauth_client="3/min")):
        for i in range(3):
            wrong = post_form(path, {"token": "x", "client_id": target.client_id, "client_secret": f"guess-{i}"},
                              client=Client(REMOTE_ADDR=f"10.6.0.{i}"))
            assert wrong.status_code == 401
        refused = post_form(path, {"token": "x"}, client=Client(REMOTE_ADDR="10.6.9.9"), HTTP_AUTHORIZATION=target.basic())
        other = post_form(path, {"token": "x"}, client=Client(REMOTE_ADDR="10.6.9.9"), HTTP_AUTHORIZATION=make_app("client-credentials").basic())
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert other.status_code == 200


def test_successful_introspections_are_not_throttled(user):
    from tests.oauth.conftest import make_app, password_tokens, post_form

    tokens = password_tokens(make_app("password"), user)
    resource_server = make_app("client-credentials")
    with override_settings(REST_FRAMEWORK=rates(oauth_client="2/min")):
        codes = [post_form("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=resource_server.basic()).status_code
                 for _ in range(5)]
    assert codes == [200] * 5


# --- the result can ask for another step --------------------------------------------------------


@override_settings(REST_FRAMEWORK=RELAXED)
def test_an_incomplete_sign_in_issues_no_credential(api, user):
    """A user with a second factor: every entry point stops after the password and issues nothing."""
    from bouncer.multifactor.totp import totp_activate, totp_secret_new
    from bouncer.tokens.jwt.models import JwtFamily
    from bouncer.tokens.opaque.models import DeviceToken

    totp_activate(user=user, secret=totp_secret_new(), step=0)
    body = {"username": "alice", "password": PASSWORD}
    for url in ("/api/accounts/login/", "/api/auth-token/", "/api/token/"):
        response = api.post(url, body, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "mfa_required" and response.json()["methods"] == ["totp"]
        assert len(response.json()["mfa_token"]) >= 40
    assert settings.SESSION_COOKIE_NAME not in api.cookies or not api.cookies[settings.SESSION_COOKIE_NAME].value
    assert not DeviceToken.objects.exists() and not JwtFamily.objects.exists()
    assert api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("alice", PASSWORD)).status_code == 401
    from tests.oauth.conftest import make_app, password_grant

    refused = password_grant(make_app("password"), user).json()
    assert refused["error"] == "invalid_grant" and "second factor" in refused["error_description"]


@pytest.mark.parametrize("way", ["basic", "password_grant"])
def test_nul_byte_in_a_username_is_a_plain_failure(api, user, way):
    if way == "basic":
        response = api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=basic("ali\x00ce", PASSWORD))
        assert response.status_code == 401
    else:
        from tests.oauth.conftest import make_app, post_form

        app = make_app("password")
        response = post_form("/o/token/", {"grant_type": "password", "username": "ali\x00ce", "password": PASSWORD},
                             HTTP_AUTHORIZATION=app.basic())
        # Refused before the client lookup by the NUL guard under /o/ (RFC 6749's invalid_request).
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_second_admin_login_in_the_same_session_rotates_the_session_id(db):
    User.objects.create_superuser(username="root", email="root@example.com", password=PASSWORD)
    browser = Client()
    assert admin_login(browser, "root", PASSWORD).status_code == 302
    first = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert admin_login(browser, "root", PASSWORD).status_code == 302  # POST again while signed in
    assert browser.cookies[settings.SESSION_COOKIE_NAME].value != first
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = first
    assert stale.get("/api/accounts/profile/").status_code == 401
    assert browser.get("/api/accounts/profile/").status_code == 200


@override_settings(BOUNCER_LOCKOUT_ATTEMPTS=3)
def test_spellings_of_one_account_share_its_lockout(api, user):
    """Sign-in matches usernames after NFKC + casefold, so the lockout must too:
    fullwidth or differently cased spellings of "alice" are the same account
    and must not each get a fresh set of guesses."""
    with override_settings(REST_FRAMEWORK=RELAXED):
        for spelling in ("alice", "ＡＬＩＣＥ", "ａｌｉｃｅ"):
            response = api.post("/api/auth-token/", {"username": spelling, "password": "wrong-password-1"}, format="json")
            assert response.status_code == 400
        locked = api.post("/api/auth-token/", {"username": "ａｌｉｃｅ", "password": PASSWORD}, format="json")
        assert locked.status_code == 429 and locked["Retry-After"]
        assert api.post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json").status_code == 429
