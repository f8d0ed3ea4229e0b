"""PKCE, redirect URIs, code replay, revocation, introspection, throttling, purge."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.oauth.models import RedeemedCode
from bouncer.oauth.services import oauth_purge_expired
from tests.conftest import PASSWORD
from tests.oauth.conftest import (
    REDIRECT,
    TOKEN_URL,
    authorize,
    bearer,
    code_from,
    exchange,
    make_app,
    password_tokens,
    pkce_pair,
    post_form,
)

pytestmark = pytest.mark.django_db


# --- PKCE ---------------------------------------------------------------------


def test_authorization_without_pkce_is_refused(user, public_app):
    response = authorize(user, public_app, challenge=None)
    assert response.status_code == 302
    assert "error=invalid_request" in response["Location"]
    assert not Grant.objects.exists()


def test_confidential_client_also_needs_pkce(user, code_app):
    response = authorize(user, code_app, challenge=None)
    assert "error=invalid_request" in response["Location"]


def test_plain_pkce_method_is_refused(user, public_app):
    verifier, _ = pkce_pair()
    response = authorize(user, public_app, challenge=verifier, method="plain")
    assert response.status_code in (302, 400)
    assert not Grant.objects.exists()


@pytest.mark.parametrize("verifier", [None, "wrong-verifier-" + "x" * 40])
def test_code_exchange_with_missing_or_wrong_verifier_is_refused(user, public_app, verifier):
    _, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, challenge=challenge))
    response = exchange(public_app, code, verifier, confidential=False)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")
    assert not AccessToken.objects.exists()


# --- redirect URIs ------------------------------------------------------------------


@pytest.mark.parametrize("redirect_uri", [
    "https://rp.example.com/cb/../evil",
    "https://rp.example.com/cb/evil",
    "https://rp.example.com/cbx",
    "https://rp.example.com/cb?x=1",
    "https://rp.example.com.evil.com/cb",
    "https://evil@rp.example.com/cb",
    "http://rp.example.com/cb",
    "https://rp.example.com/cb#frag",
    "https://RP.example.com:444/cb",
])
def test_redirect_uri_must_match_exactly(user, public_app, redirect_uri):
    _, challenge = pkce_pair()
    response = authorize(user, public_app, challenge=challenge, redirect_uri=redirect_uri)
    # Never redirected anywhere: an unregistered URI gets a JSON error here.
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] in ("invalid_request", "mismatching_redirect_uri")
    assert not Grant.objects.exists()


def test_token_exchange_with_other_redirect_uri_is_refused(user, public_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, challenge=challenge))
    response = exchange(public_app, code, verifier, redirect_uri=REDIRECT + "/../other", confidential=False)
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_unknown_client_gets_json_error_not_redirect(user):
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", {"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "Location" not in response


# --- authorization codes -------------------------------------------------------------


def test_code_replay_is_refused_and_revokes_tokens_it_issued(user, public_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, scope="read", challenge=challenge))
    tokens = exchange(public_app, code, verifier, confidential=False).json()
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 200
    replay = exchange(public_app, code, verifier, confidential=False)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 401
    refresh = post_form(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                    "client_id": public_app.client_id})
    assert refresh.status_code == 400
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CODE_REPLAYED, user=user).count() == 1


def test_code_replay_after_refresh_revokes_descendants(user, public_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, challenge=challenge))
    first = exchange(public_app, code, verifier, confidential=False).json()
    second = post_form(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                   "client_id": public_app.client_id}).json()
    exchange(public_app, code, verifier, confidential=False)
    assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


@pytest.mark.parametrize("read", ["get_code_challenge", "get_code_challenge_method", "confirm_redirect_uri"])
@pytest.mark.parametrize("client_type", ["public", "confidential"])
def test_code_redeemed_by_a_concurrent_exchange_mid_validation_is_a_replay_not_500(user, client_type, read):
    """The interleaving behind a 500 seen with threads on PostgreSQL, made deterministic:
    tab B's exchange passes ``validate_code``, then tab A redeems the code (the grant
    row is deleted) before B reads the grant's PKCE challenge or redirect URI."""
    from unittest.mock import patch

    from bouncer.oauth.validators import BouncerOAuth2Validator

    app = make_app("authorization-code", client_type=client_type)
    confidential = client_type == "confidential"
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, app, scope="read", challenge=challenge))
    original, winner, started = getattr(BouncerOAuth2Validator, read), [], []

    def read_after_the_other_tab_won(self, *args, **kwargs):
        if not started:  # the first call is tab B's; tab A runs all the way through meanwhile
            started.append(True)
            winner.append(exchange(app, code, verifier, confidential=confidential))
        return original(self, *args, **kwargs)

    with patch.object(BouncerOAuth2Validator, read, read_after_the_other_tab_won):
        loser = exchange(app, code, verifier, confidential=confidential)
    assert winner[0].status_code == 200, winner[0].content
    assert loser.status_code == 400, loser.content
    assert loser["Content-Type"] == "application/json" and loser["Cache-Control"] == "no-store"
    assert loser.json()["error"] == "invalid_grant" and "access_token" not in loser.json()
    # A replay, as if it came after: what the code issued is revoked (RFC 6749 4.1.2).
    assert bearer(winner[0].json()["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CODE_REPLAYED, user=user).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("client_type", ["public", "confidential"])
def test_concurrent_exchanges_of_one_code_answer_invalid_grant_never_500_and_leave_no_token(client_type):
    import threading

    from django.db import connection

    from tests.conftest import make_user

    user = make_user("alice")
    app = make_app("authorization-code", client_type=client_type)
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, app, challenge=challenge))
    barrier, answers, lock = threading.Barrier(6), [], threading.Lock()

    def tab():
        try:
            barrier.wait(timeout=30)
            response = exchange(app, code, verifier, confidential=client_type == "confidential")
        finally:
            connection.close()
        with lock:
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=tab) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 6
    assert all(status == 200 or (status == 400 and body["error"] == "invalid_grant") for status, body in answers), answers
    assert [status for status, _ in answers].count(200) <= 1
    # Every loser is a replay: whatever the code issued is revoked.
    assert not AccessToken.objects.exists()


def test_code_of_one_client_cannot_be_redeemed_by_another(user, public_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, challenge=challenge))
    other = make_app(client_type="public")
    assert exchange(other, code, verifier, confidential=False).status_code == 400
    assert exchange(public_app, code, verifier, confidential=False).status_code == 200


def test_expired_code_is_refused(user, public_app):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, challenge=challenge))
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert exchange(public_app, code, verifier, confidential=False).status_code == 400
    assert not AccessToken.objects.exists()


# --- revocation and introspection ----------------------------------------------------


def test_revocation_by_owner_client_works_and_is_audited(user, password_app):
    tokens = password_tokens(password_app, user)
    response = post_form("/o/revoke_token/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=password_app.basic())
    assert response.status_code == 200
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, user=user, method="oauth2").count() == 1


@pytest.mark.parametrize("hint", ["refresh_token", None])
def test_revoking_a_rotated_refresh_token_revokes_its_successors_too(user, password_app, hint):
    """Tab A signs out with the refresh token it holds while tab B has rotated it: the
    sign-in ends (as a JWT logout with any refresh token of the family ends it), it
    does not live on in B's successor."""
    first = password_tokens(password_app, user)
    second = post_form(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                       HTTP_AUTHORIZATION=password_app.basic()).json()
    data = {"token": first["refresh_token"], **({"token_type_hint": hint} if hint else {})}
    assert post_form("/o/revoke_token/", data, HTTP_AUTHORIZATION=password_app.basic()).status_code == 200
    assert bearer(second["access_token"]).get("/api/accounts/profile/").status_code == 401
    refused = post_form(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                        HTTP_AUTHORIZATION=password_app.basic())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()


def test_revoking_another_clients_token_has_no_effect(user, password_app):
    tokens = password_tokens(password_app, user)
    other = make_app("password")
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = post_form("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=other.basic())
        assert response.status_code == 200  # RFC 7009: no hint whether it exists
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 200
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).exists()


def test_introspection_with_client_credentials(user, password_app, cc_app):
    tokens = password_tokens(password_app, user)
    response = post_form("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=cc_app.basic())
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True and body["username"] == "alice" and body["client_id"] == password_app.client_id
    unknown = post_form("/o/introspect/", {"token": "nope"}, HTTP_AUTHORIZATION=cc_app.basic())
    assert unknown.json() == {"active": False}


def test_introspection_refuses_bearer_tokens_and_anonymous_callers(user, password_app):
    tokens = password_tokens(password_app, user, scope="read write")
    as_bearer = post_form("/o/introspect/", {"token": tokens["access_token"]},
                          HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_client"
    anonymous = post_form("/o/introspect/", {"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    wrong = post_form("/o/introspect/", {"token": tokens["access_token"], "client_id": password_app.client_id,
                                         "client_secret": "wrong"})
    assert wrong.status_code == 401


def test_introspection_by_get_with_token_in_url_is_refused(user, password_app, cc_app):
    tokens = password_tokens(password_app, user)
    response = Client().get("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=cc_app.basic())
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")


# --- tokens only in the header --------------------------------------------------------


def test_access_token_in_query_string_or_body_is_ignored(user, password_app):
    tokens = password_tokens(password_app, user)
    assert Client().get("/api/accounts/profile/", {"access_token": tokens["access_token"]}).status_code == 401
    assert Client().get("/o/userinfo/", {"access_token": tokens["access_token"]}).status_code in (401, 403)
    body = post_form("/o/userinfo/", {"access_token": tokens["access_token"]})
    assert body.status_code in (401, 403)


# --- throttling and JSON errors ---------------------------------------------------------


def test_token_endpoint_is_throttled_per_address(password_app):
    rates = {"oauth_token": "3/min"}
    from django.conf import settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}):
        codes = [post_form(TOKEN_URL, {"grant_type": "client_credentials"}).status_code for _ in range(4)]
        response = post_form(TOKEN_URL, {"grant_type": "client_credentials"})
    assert codes[:3] == [401, 401, 401] and codes[3] == 429
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"] == "rate_limited"


@pytest.mark.parametrize("method, path", [("get", "/o/token/"), ("get", "/o/revoke_token/"), ("get", "/o/nope/"),
                                          ("post", "/o/.well-known/jwks.json")])
def test_errors_under_o_are_json(method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code in (404, 405)
    assert response["Content-Type"].startswith("application/json")


# --- purge -------------------------------------------------------------------------------


def test_expired_tokens_and_grants_are_purged_by_token_endpoint(user, password_app, public_app):
    tokens = password_tokens(password_app, user)
    _, challenge = pkce_pair()
    authorize(user, public_app, challenge=challenge)  # a grant never redeemed
    assert Grant.objects.count() == 1
    later = timezone.now() + timedelta(days=30)
    with time_machine.travel(later):
        cache.clear()
        password_tokens(password_app, user)  # any issuance purges, at most once per interval
    assert not Grant.objects.exists()
    assert AccessToken.objects.count() == 1  # only the new one
    assert bearer(tokens["access_token"]).get("/api/accounts/profile/").status_code == 401


def test_purge_runs_at_most_once_per_interval():
    assert oauth_purge_expired() is True
    assert oauth_purge_expired() is False
    assert oauth_purge_expired(force=True) is True


def test_redeemed_code_records_expire(user, public_app):
    verifier, challenge = pkce_pair()
    exchange(public_app, code_from(authorize(user, public_app, challenge=challenge)), verifier, confidential=False)
    assert RedeemedCode.objects.count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        oauth_purge_expired(force=True)
    assert not RedeemedCode.objects.exists()


def test_password_grant_is_throttled_per_account_across_addresses(user, password_app):
    """Like every other password sign-in: BOUNCER_THROTTLE_LOGIN_ACCOUNT counts attempts on one
    username whatever the address, shared with the JSON and HTML logins."""
    from django.conf import settings

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_account": "2/min", "oauth_token": "100/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        for i in range(2):
            wrong = Client(REMOTE_ADDR=f"10.1.0.{i}").post(
                TOKEN_URL, {"grant_type": "password", "username": user.username, "password": "wrong"},
                HTTP_AUTHORIZATION=password_app.basic(),
            )
            assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        blocked = Client(REMOTE_ADDR="10.1.0.99").post(
            TOKEN_URL, {"grant_type": "password", "username": user.username.upper(), "password": PASSWORD},
            HTTP_AUTHORIZATION=password_app.basic(),
        )
        assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
        assert not AccessToken.objects.exists()
        # Grants without a username are not counted per account.
        other = Client(REMOTE_ADDR="10.1.0.99").post(TOKEN_URL, {"grant_type": "client_credentials"},
                                                     HTTP_AUTHORIZATION=password_app.basic())
        assert other.status_code != 429
