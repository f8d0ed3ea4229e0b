"""The sign-in flow tried as an attacker (issue 8's attack pass).

Each test is an attack that worked on the merged flow: parallel wrong
guesses past the lockout limit, a ``Retry-After`` that sends an obedient
client into a second refusal, client-secret guessing at ``/o/token/``
unlimited per client.

The parallel tests use real threads, each with its own database connection,
released together by a barrier (as tests/tokens/test_jwt_concurrency.py);
meaningful on PostgreSQL with Redis, and the same outcome must hold on SQLite.
"""

from __future__ import annotations

import base64
import re

import pytest
import time_machine
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.core.exceptions import InvalidCredentials
from bouncer.users.signin import AccountLocked, SignInThrottled, signin_password
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user
from tests.oauth.conftest import make_app, post_form

THREADS = 10

RELAXED = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}


def rates(**overrides):
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**RELAXED["DEFAULT_THROTTLE_RATES"], **overrides}}


def parallel(work) -> list:
    return at_once([lambda i=i: work(i) for i in range(THREADS)])


def _guess(i):
    request = RequestFactory().post("/api/accounts/login/", REMOTE_ADDR=f"10.40.0.{i}")
    try:
        signin_password(request=request, username="alice", password=f"wrong-{i}", method="session")
    except InvalidCredentials:
        return "checked"
    except (AccountLocked, SignInThrottled):
        return "refused"
    return "signed in"


@pytest.mark.django_db(transaction=True)
@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_parallel_wrong_guesses_check_no_more_passwords_than_the_lockout_allows():
    make_user("alice")
    outcomes = parallel(_guess)
    assert outcomes.count("checked") == 3, outcomes  # the rest refused before the password was looked at
    assert outcomes.count("refused") == THREADS - 3
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED).count() == 1
    # And the account is locked on every way in, the right password included.
    locked = APIClient().post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert locked.status_code == 429


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=rates(login_account="5/min"), BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_retry_after_of_a_throttled_locked_account_covers_the_lock():
    """Locked, then hammered until the account throttle answers too: its
    Retry-After must not be the throttle's minute while the lock lasts ten."""
    make_user("alice")
    with time_machine.travel("2026-01-01 00:00:00", tick=False) as clock:
        api = APIClient()
        answers = [api.post("/api/accounts/login/", {"username": "alice", "password": "wrong"}, format="json") for _ in range(6)]
        assert all(a.status_code < 429 for a in answers[:3])
        last = answers[-1]
        assert last.status_code == 429
        clock.shift(int(last["Retry-After"]))
        again = api.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert again.status_code == 200, (last["Retry-After"], again.status_code, again.content)


@pytest.mark.django_db
def test_client_secret_guessing_at_the_token_endpoint_is_throttled_per_client_id_across_addresses():
    app = make_app("client-credentials")
    with override_settings(REST_FRAMEWORK=rates(oauth_client="3/min")):
        failures = [
            post_form("/o/token/", {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": f"guess-{i}"},
                      client=Client(REMOTE_ADDR=f"10.42.{i}.1")).status_code
            for i in range(3)
        ]
        refused = post_form("/o/token/", {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": app.secret},
                            client=Client(REMOTE_ADDR="10.42.9.9"))
    assert failures == [401, 401, 401]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"] == "rate_limited"


SIGN_IN_PATHS = ["/api/accounts/login/", "/accounts/login/", "/admin/login/", "/api/auth-token/", "/api/token/", "/o/token/"]


def _answer(response) -> tuple:
    """What a client sees, minus what differs on every request (the CSRF token of a page)."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    body = re.sub(r"(username|name)=\"?(nobody|alice|dormant)\"?|value=\"(nobody|alice|dormant)\"", "", body)
    headers = {k: v for k, v in response.items() if k.lower() in ("www-authenticate", "content-type", "retry-after", "location")}
    return response.status_code, headers, body.replace("nobody", "").replace("dormant", "").replace("alice", "")


@pytest.mark.django_db
@pytest.mark.parametrize("path", SIGN_IN_PATHS)
@override_settings(REST_FRAMEWORK=RELAXED)
def test_unknown_wrong_and_inactive_answer_alike_on_every_way_in(path):
    from tests.security.test_signin_urls import PASSWORD_DRIVERS

    make_user("alice")
    make_user("dormant", is_active=False)
    attempt = PASSWORD_DRIVERS[path][0]
    answers = {
        "unknown": _answer(attempt("nobody", PASSWORD, "10.43.0.1")),
        "wrong": _answer(attempt("alice", "wrong-password-1", "10.43.0.2")),
        "inactive": _answer(attempt("dormant", PASSWORD, "10.43.0.3")),
    }
    assert answers["unknown"][0] in (400, 401, 200), answers["unknown"]
    assert answers["unknown"] == answers["wrong"] == answers["inactive"], answers


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_BASIC_AUTH_ENABLED=True)
def test_unknown_wrong_and_inactive_answer_alike_over_basic():
    make_user("alice")
    make_user("dormant", is_active=False)

    def basic(username, password):
        raw = base64.b64encode(f"{username}:{password}".encode()).decode()
        return _answer(APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Basic {raw}"))

    assert basic("nobody", PASSWORD) == basic("alice", "wrong-password-1") == basic("dormant", PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("path", SIGN_IN_PATHS)
@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=2, BOUNCER_LOCKOUT_SECONDS=600)
def test_a_locked_unknown_name_answers_like_a_locked_account(path):
    from tests.security.test_signin_urls import PASSWORD_DRIVERS

    make_user("alice")
    attempt = PASSWORD_DRIVERS[path][0]
    with time_machine.travel("2026-01-01 00:00:00", tick=False):
        for name in ("nobody", "alice"):
            for i in range(2):
                attempt(name, "wrong", f"10.44.{i}.1")
        assert _answer(attempt("nobody", "wrong", "10.44.9.1")) == _answer(attempt("alice", PASSWORD, "10.44.9.2"))


@pytest.mark.django_db(transaction=True)
@override_settings(REST_FRAMEWORK=rates(login="3/min"), BOUNCER_BASIC_AUTH_ENABLED=True)
def test_parallel_basic_guesses_from_one_address_stop_at_its_limit():
    """Password spraying over Basic: one address, a different name per request, all at once."""
    for i in range(THREADS):
        make_user(f"user{i}")

    def work(i):
        raw = base64.b64encode(f"user{i}:wrong-{i}".encode()).decode()
        return APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Basic {raw}", REMOTE_ADDR="10.45.0.1").status_code

    outcomes = parallel(work)
    assert outcomes.count(401) <= 3, outcomes
    assert outcomes.count(429) >= THREADS - 3, outcomes


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=rates(login="3/min", login_account="3/min"), BOUNCER_BASIC_AUTH_ENABLED=True)
def test_basic_successes_still_do_not_use_up_the_address_throttle():
    make_user("alice")
    raw = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    answers = [APIClient().get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Basic {raw}", REMOTE_ADDR="10.46.0.1").status_code for _ in range(6)]
    assert answers == [200] * 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/o/introspect/", "/o/token/"])
def test_parallel_client_secret_guesses_stop_at_the_per_client_limit(path):
    app = make_app("client-credentials")
    body = {"token": "x"} if path == "/o/introspect/" else {"grant_type": "client_credentials"}

    def work(i):
        return post_form(path, {**body, "client_id": app.client_id, "client_secret": f"guess-{i}"},
                         client=Client(REMOTE_ADDR=f"10.47.{i}.1")).status_code

    with override_settings(REST_FRAMEWORK=rates(oauth_client="3/min")):
        outcomes = parallel(work)
    assert outcomes.count(401) <= 3, outcomes
    assert outcomes.count(429) >= THREADS - 3, outcomes


@pytest.mark.django_db
def test_guessers_holding_the_client_count_up_do_not_lock_the_real_client_out():
    app = make_app("client-credentials")
    token_of = post_form("/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=app.basic()).json()["access_token"]
    with override_settings(REST_FRAMEWORK=rates(oauth_client="3/min")):
        for i in range(4):
            post_form("/o/introspect/", {"token": "x", "client_id": app.client_id, "client_secret": f"guess-{i}"},
                      client=Client(REMOTE_ADDR=f"10.48.{i}.1"))
        guess = post_form("/o/introspect/", {"token": "x", "client_id": app.client_id, "client_secret": "guess-9"},
                          client=Client(REMOTE_ADDR="10.48.9.1"))
        real = post_form("/o/introspect/", {"token": token_of}, HTTP_AUTHORIZATION=app.basic(), client=Client(REMOTE_ADDR="10.48.10.1"))
    assert guess.status_code == 429
    assert real.status_code == 200 and real.json()["active"] is True


@pytest.mark.django_db
def test_password_grant_spraying_from_one_address_is_held_to_the_token_logins_rate():
    """/o/token/ allowed 120 password guesses a minute per address (its every-grant
    rate) where /api/token/ allows 10: spraying names went through the grant."""
    app = make_app("password")
    for i in range(3):
        make_user(f"user{i}")
    with override_settings(REST_FRAMEWORK=rates(token="2/min")):
        answers = [
            post_form("/o/token/", {"grant_type": "password", "username": f"user{i}", "password": "wrong"},
                      client=Client(REMOTE_ADDR="10.49.0.1"), HTTP_AUTHORIZATION=app.basic())
            for i in range(3)
        ]
    assert [a.status_code for a in answers[:2]] == [400, 400]
    assert answers[2].status_code == 429 and answers[2].json()["error"] == "rate_limited"
    assert int(answers[2]["Retry-After"]) >= 1


def _behind_proxy(**overrides):
    return {**rates(**overrides), "NUM_PROXIES": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("hops", [["203.0.113.7:4711", "203.0.113.7:4712", "203.0.113.7:4713"],
                                  ["[2001:db8::7]:4711", "[2001:db8::7]:4712", "[2001:db8::8]:4713"],
                                  ["unknown", "not-an-address", "x"]])
def test_a_forwarded_hop_that_is_not_a_bare_address_does_not_escape_the_address_throttle(hops):
    """A proxy that writes the port (or garbage) into X-Forwarded-For made the
    address unreadable, and an unreadable address was throttled by nobody."""
    make_user("alice")
    with override_settings(REST_FRAMEWORK=_behind_proxy(login="2/min")):
        answers = [
            APIClient().post("/api/accounts/login/", {"username": f"user{i}", "password": "wrong"}, format="json",
                             REMOTE_ADDR="10.50.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.1, {hop}").status_code
            for i, hop in enumerate(hops)
        ]
    assert answers[:2] != [429, 429] and answers[2] == 429, answers


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=rates(login="2/min"))
def test_a_request_without_a_readable_address_is_still_throttled_per_address():
    """gunicorn on a unix socket gives REMOTE_ADDR "": fail closed, not open."""
    answers = [
        APIClient().post("/api/accounts/login/", {"username": f"user{i}", "password": "wrong"}, format="json", REMOTE_ADDR="").status_code
        for i in range(3)
    ]
    assert answers[2] == 429, answers


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=_behind_proxy(login="2/min"))
def test_the_leftmost_forwarded_hops_are_the_clients_to_forge_and_do_not_count():
    answers = [
        APIClient().post("/api/accounts/login/", {"username": f"user{i}", "password": "wrong"}, format="json",
                         REMOTE_ADDR="10.51.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 198.51.100.9").status_code
        for i in range(3)
    ]
    assert answers[2] == 429, answers


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/accounts/login/", "/accounts/login/", "/admin/login/", "/api/auth-token/", "/api/token/",
                                  "/o/token/", "/api/accounts/password/change/", "/admin/password_change/"])
@pytest.mark.parametrize("limit", ["throttle", "lockout"])
def test_waiting_exactly_retry_after_is_not_refused_again_on_every_way_in(path, limit):
    from tests.security.test_signin_urls import PASSWORD_DRIVERS

    make_user("alice", is_staff=True)
    attempt = PASSWORD_DRIVERS[path][0]
    settings_ = {"REST_FRAMEWORK": rates(login_account="2/min")} if limit == "throttle" else {
        "REST_FRAMEWORK": RELAXED, "BOUNCER_LOCKOUT_ATTEMPTS": 2, "BOUNCER_LOCKOUT_SECONDS": 600}
    with override_settings(**settings_), time_machine.travel("2026-01-01 00:00:17", tick=False) as clock:
        for i in range(2):
            assert attempt("alice", f"wrong-{i}", f"10.52.0.{i}").status_code != 429
        refused = attempt("alice", PASSWORD, "10.52.1.1")
        assert refused.status_code == 429
        clock.shift(int(refused["Retry-After"]))
        again = attempt("alice", PASSWORD, "10.52.1.2")
    assert again.status_code != 429, (refused["Retry-After"], again.content[:200])
