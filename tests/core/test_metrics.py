"""GET /metrics: who may read it, and that every metric moves when a user does the thing.

Every number is read the way Prometheus reads it: a scrape of /metrics (with
the bearer secret), parsed by prometheus_client's own parser. The registry is
the process's, shared by the whole suite, so each test compares a scrape
taken before with one taken after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.settings.metrics import _allow_ips, _token
from tests.conftest import PASSWORD, make_user
from tests.multifactor.conftest import with_totp
from tests.oauth.conftest import TOKEN_URL, make_app, password_grant, password_tokens, post_form

pytestmark = pytest.mark.django_db

SECRET = "metrics-test-secret-0123456789abcdef"
OPEN = {**settings.BOUNCER_METRICS, "TOKEN": SECRET, "ALLOW_IPS": []}
CLOSED = {**settings.BOUNCER_METRICS, "TOKEN": "", "ALLOW_IPS": []}
RELAXED = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}


def scrape(**extra) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape: (sample name, labels) -> value."""
    with override_settings(BOUNCER_METRICS=OPEN):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {SECRET}", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


class Delta:
    """How much samples moved between two scrapes (``delta("bouncer_signins_total", method=..., outcome=...)``)."""

    def __init__(self):
        self.before = scrape()

    def __call__(self, name: str, **labels) -> float:
        after = scrape()
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - self.before.get(key, 0.0)


def login(client, username, password=PASSWORD, url="/api/accounts/login/", **extra):
    return client.post(url, {"username": username, "password": password, **extra}, content_type="application/json")


# --- who may read it ------------------------------------------------------------


def _unknown_404(client: Client, **headers):
    return client.get("/no-such-page", **headers)


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": f"Bearer {SECRET}"}, {"HTTP_AUTHORIZATION": "Bearer "}])
@override_settings(BOUNCER_METRICS=CLOSED)
def test_metrics_unconfigured_is_not_found_for_everyone(headers):
    client = Client(REMOTE_ADDR="127.0.0.1")
    response = client.get("/metrics", **headers)
    unknown = _unknown_404(client, **headers)
    # Answered exactly like a path that does not exist: nothing says it is there.
    assert response.status_code == unknown.status_code == 404
    assert response.content == unknown.content
    assert client.post("/metrics", **headers).status_code == 404  # not 403 (CSRF) nor 405: nothing to learn


@override_settings(BOUNCER_METRICS={**CLOSED, "ALLOW_IPS": ["192.0.2.7"]})
def test_metrics_allowed_address_reads_it_and_another_does_not():
    allowed = Client(REMOTE_ADDR="192.0.2.7").get("/metrics")
    assert allowed.status_code == 200
    assert b"bouncer_http_request_duration_seconds" in allowed.content
    assert allowed["Cache-Control"].startswith("max-age=0") or "no-cache" in allowed["Cache-Control"]
    assert Client(REMOTE_ADDR="192.0.2.8").get("/metrics").status_code == 404
    # An allowed reader may still only read.
    assert Client(REMOTE_ADDR="192.0.2.7").post("/metrics").status_code == 405


@pytest.mark.parametrize(
    ("networks", "address", "status"),
    [
        (["10.0.0.0/8"], "10.20.30.40", 200),
        (["10.0.0.0/8"], "11.0.0.1", 404),
        (["192.0.2.0/24", "2001:db8::/32"], "2001:db8:1::5", 200),
        (["2001:db8::/32"], "2001:db9::5", 404),
        # A dual-stack socket's IPv4-mapped form is the IPv4 address it carries.
        (["10.0.0.0/8"], "::ffff:10.0.0.9", 200),
        (["10.0.0.0/8"], "not-an-address", 404),
    ],
)
def test_metrics_allowed_networks(networks, address, status):
    with override_settings(BOUNCER_METRICS={**CLOSED, "ALLOW_IPS": networks}):
        assert Client(REMOTE_ADDR=address).get("/metrics").status_code == status


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {SECRET}", 200),
        (f"bearer {SECRET}", 200),
        (f"Bearer {SECRET}x", 404),
        (f"Bearer {SECRET[:-1]}", 404),
        (f"Token {SECRET}", 404),
        (f"Basic {SECRET}", 404),
        ("Bearer", 404),
        ("", 404),
        ("Bearer \u00e9t\u00e9-" + SECRET, 404),  # non-ASCII: compared as bytes, never a 500
    ],
)
@override_settings(BOUNCER_METRICS=OPEN)
def test_metrics_bearer_secret(header, status):
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_AUTHORIZATION=header).status_code == status


def test_metrics_forwarded_for_is_ignored_unless_behind_a_proxy():
    spoofed = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "10.0.0.1"}
    with override_settings(BOUNCER_METRICS={**CLOSED, "ALLOW_IPS": ["10.0.0.0/8"]}):
        assert Client(**spoofed).get("/metrics").status_code == 404
        # Behind the proxy (BOUNCER_BEHIND_PROXY: one trusted hop) the proxy's word counts.
        with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
            assert Client(**spoofed).get("/metrics").status_code == 200
            # ... but only its last hop: a client's own prefix does not.
            prefixed = {"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": "10.0.0.1, 203.0.113.9"}
            assert Client(**prefixed).get("/metrics").status_code == 404


@override_settings(
    BOUNCER_METRICS=OPEN,
    REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "1/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}},
)
def test_metrics_is_not_throttled_by_the_api_throttles():
    client = Client()
    assert {client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {SECRET}").status_code for _ in range(5)} == {200}


def test_metrics_is_not_in_the_api_schema():
    schema = Client().get("/api/schema/?format=json").json()
    assert not [path for path in schema["paths"] if "metrics" in path]


def test_metrics_settings_refuse_a_bad_network_and_a_short_secret():
    assert _allow_ips(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]) == ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    with pytest.raises(ImproperlyConfigured, match="BOUNCER_METRICS_ALLOW_IPS"):
        _allow_ips(["10.0.0.0/33"])
    with pytest.raises(ImproperlyConfigured, match="BOUNCER_METRICS_ALLOW_IPS"):
        _allow_ips(["prometheus.internal"])
    with pytest.raises(ImproperlyConfigured, match="BOUNCER_METRICS_TOKEN"):
        _token("short")
    assert _token("") == ""
    assert _token(SECRET) == SECRET


# --- each metric moves ------------------------------------------------------------


@override_settings(REST_FRAMEWORK=RELAXED)
def test_session_sign_in_and_failure_and_logout_are_counted():
    make_user("alice")
    delta = Delta()
    browser = Client()
    assert login(browser, "alice").status_code == 200
    assert login(Client(), "alice", "wrong-password-1").status_code in (400, 401)
    assert login(Client(), "nobody", "wrong-password-1").status_code in (400, 401)
    assert browser.post("/api/accounts/logout/").status_code == 200
    assert delta("bouncer_signins_total", method="session", outcome="succeeded") == 1
    assert delta("bouncer_signins_total", method="session", outcome="failed") == 2
    assert delta("bouncer_credentials_issued_total", kind="session") == 1
    assert delta("bouncer_credentials_revoked_total", kind="session") == 1
    assert delta("bouncer_audit_events_total", action="login_failed") == 2


@override_settings(REST_FRAMEWORK=RELAXED, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_lockout_is_counted_once_and_locked_attempts_after_it():
    make_user("alice")
    delta = Delta()
    for _ in range(3):
        assert login(Client(), "alice", "wrong-password-1").status_code in (400, 401)
    assert login(Client(), "alice").status_code == 429  # the right password, but locked
    assert delta("bouncer_lockouts_total", method="session") == 1
    assert delta("bouncer_signins_total", method="session", outcome="failed") == 3
    assert delta("bouncer_signins_total", method="session", outcome="locked") == 1
    assert delta("bouncer_signins_total", method="session", outcome="succeeded") == 0


@override_settings(REST_FRAMEWORK=RELAXED)
def test_token_sign_in_issue_and_logout_are_counted():
    make_user("alice")
    delta = Delta()
    answer = login(Client(), "alice", url="/api/auth-token/", device_name="phone")
    assert answer.status_code == 200, answer.content
    client = Client(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    assert client.post("/api/auth-token/logout/").status_code == 204
    assert delta("bouncer_signins_total", method="token", outcome="succeeded") == 1
    assert delta("bouncer_credentials_issued_total", kind="token") == 1
    assert delta("bouncer_credentials_revoked_total", kind="token") == 1


@override_settings(REST_FRAMEWORK=RELAXED)
def test_jwt_refresh_outcomes_are_counted():
    make_user("alice")
    delta = Delta()
    pair = login(Client(), "alice", url="/api/token/").json()
    refresh = lambda raw: Client().post("/api/token/refresh/", {"refresh": raw}, content_type="application/json")  # noqa: E731
    rotated = refresh(pair["refresh"])
    assert rotated.status_code == 200
    assert refresh("not-a-token").status_code == 401
    # A replay after the grace period: reuse, the sign-in revoked.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.BOUNCER_JWT["REUSE_GRACE_SECONDS"] + 1)):
        assert refresh(pair["refresh"]).status_code == 401
    assert refresh(rotated.json()["refresh"]).status_code == 401  # revoked with its family: rejected, not reuse again
    assert delta("bouncer_signins_total", method="jwt", outcome="succeeded") == 1
    assert delta("bouncer_credentials_issued_total", kind="jwt") == 1
    assert delta("bouncer_refreshes_total", kind="jwt", outcome="rotated") == 1
    assert delta("bouncer_refreshes_total", kind="jwt", outcome="reuse") == 1
    assert delta("bouncer_refreshes_total", kind="jwt", outcome="rejected") == 2
    assert delta("bouncer_reuse_detections_total", kind="jwt") == 1
    assert delta("bouncer_credentials_revoked_total", kind="jwt") == 1


@override_settings(REST_FRAMEWORK=RELAXED)
def test_oauth2_password_grant_refresh_and_reuse_are_counted():
    user = make_user("alice")
    app = make_app("password")
    delta = Delta()
    tokens = password_tokens(app, user)
    assert password_grant(app, user, password="wrong-password-1").status_code == 400

    def refresh(raw):
        return post_form(TOKEN_URL, {"grant_type": "refresh_token", "refresh_token": raw}, HTTP_AUTHORIZATION=app.basic())

    assert refresh(tokens["refresh_token"]).status_code == 200
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}):
        assert refresh(tokens["refresh_token"]).status_code == 400  # replayed: the family is revoked
    assert refresh("never-issued").status_code == 400
    assert delta("bouncer_signins_total", method="oauth2", outcome="succeeded") == 1
    assert delta("bouncer_signins_total", method="oauth2", outcome="failed") == 1
    assert delta("bouncer_credentials_issued_total", kind="oauth2") == 1
    assert delta("bouncer_refreshes_total", kind="oauth2", outcome="rotated") == 1
    assert delta("bouncer_refreshes_total", kind="oauth2", outcome="reuse") == 1
    assert delta("bouncer_refreshes_total", kind="oauth2", outcome="rejected") == 1
    assert delta("bouncer_reuse_detections_total", kind="oauth2") == 1


@override_settings(REST_FRAMEWORK=RELAXED)
def test_mfa_challenge_outcomes_are_counted_and_the_sign_in_once():
    user = make_user("alice")
    totp = with_totp(user)
    delta = Delta()
    first = login(Client(), "alice", url="/api/token/")
    assert first.status_code == 401 and first.json()["code"] == "mfa_required"
    authenticate = lambda code: Client().post(  # noqa: E731
        "/api/auth/mfa/authenticate/", {"mfa_token": first.json()["mfa_token"], "code": code}, content_type="application/json"
    )
    wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
    assert authenticate(wrong).status_code in (400, 401)
    assert authenticate(totp.now()).status_code == 200
    assert delta("bouncer_mfa_challenges_total", method="totp", outcome="failed") == 1
    assert delta("bouncer_mfa_challenges_total", method="totp", outcome="succeeded") == 1
    assert delta("bouncer_signins_total", method="jwt", outcome="succeeded") == 1
    assert delta("bouncer_credentials_issued_total", kind="jwt") == 1


def test_throttled_requests_are_counted_by_scope():
    make_user("alice")
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min", "login_account": "1000/min"}
    delta = Delta()
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [login(Client(), "alice", "wrong-password-1").status_code for _ in range(4)]
    assert [s in (400, 401) for s in statuses[:2]] == [True, True] and statuses[2:] == [429, 429]
    assert delta("bouncer_throttled_requests_total", scope="login") == 2
    assert delta("bouncer_throttled_requests_total", scope="login_account") == 0


def test_request_latency_is_labelled_by_url_pattern_never_by_path():
    user = make_user("alice")
    delta = Delta()
    client = Client()
    client.force_login(user)
    assert client.get("/healthz").status_code == 200
    assert client.post("/accounts/sessions/sess1234secret/revoke/").status_code in (302, 404)
    assert client.get("/no-such-page-7f3a").status_code == 404
    assert client.get("/api/no-such-endpoint-7f3a/").status_code == 404
    client.generic("BREW", "/healthz")  # a method nobody defined: one label for all of them
    count = "bouncer_http_request_duration_seconds_count"
    assert delta(count, route="healthz", method="GET", status="2xx") == 1
    revoke = {key: value for key, value in scrape().items() if ("route", "accounts/sessions/<str:credential_id>/revoke/") in key[1]}
    assert revoke, "the revoke page's pattern is a label"
    assert delta(count, route="unmatched", method="GET", status="4xx") == 2
    assert delta(count, route="healthz", method="other", status="4xx") == 1
    labels = {value for name, labels in scrape() for key, value in labels if key == "route"}
    assert not [label for label in labels if "7f3a" in label or "sess1234secret" in label]


def test_cache_errors_are_counted_when_readiness_finds_the_cache_down():
    delta = Delta()
    dead = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}
    with override_settings(CACHES=dead):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "fail"
    assert delta("bouncer_dependency_errors_total", dependency="cache") == 1
    assert delta("bouncer_dependency_errors_total", dependency="database") == 0


def test_dependency_error_counter_never_raises_and_keeps_its_labels_closed():
    from bouncer.core.metrics import metrics_dependency_error

    delta = Delta()
    metrics_dependency_error("database")
    metrics_dependency_error("anything <else>")
    assert delta("bouncer_dependency_errors_total", dependency="database") == 1
    assert delta("bouncer_dependency_errors_total", dependency="other") == 1


@pytest.mark.parametrize("issue", ["jwt", "session"])
@override_settings(REST_FRAMEWORK=RELAXED)
def test_passkey_sign_in_is_one_sign_in_of_its_own_way_in_whatever_it_issues(issue):
    from rest_framework.test import APIClient

    from tests.multifactor.pages import ORIGIN
    from tests.multifactor.test_passkey_api import BEGIN, SIGNIN, passkey_for

    key = passkey_for(make_user("alice"))
    delta = Delta()
    api = APIClient()
    options = api.post(BEGIN, {}, format="json").json()
    response = api.post(SIGNIN, {"passkey_token": options["passkey_token"], "credential": key.get(options["options"], ORIGIN),
                                 "issue": issue}, format="json")
    assert response.status_code == 200, response.content
    assert delta("bouncer_signins_total", method="passkey", outcome="succeeded") == 1
    assert delta("bouncer_signins_total", method=issue, outcome="succeeded") == 0  # not a second sign-in
    assert delta("bouncer_credentials_issued_total", kind=issue) == 1
    assert delta("bouncer_mfa_challenges_total", method="webauthn", outcome="succeeded") == 1


@override_settings(REST_FRAMEWORK=RELAXED)
def test_a_metric_that_cannot_be_written_never_breaks_the_request(monkeypatch):
    from bouncer.audit.models import AuditAction, AuditEvent
    from bouncer.core import metrics

    make_user("alice")

    def broken(*args, **kwargs):
        raise OSError("metrics file gone")

    monkeypatch.setattr(metrics, "_CHILDREN", {})  # no child kept from earlier tests: every one is made again, and fails
    monkeypatch.setattr(metrics.SIGNINS, "labels", broken)
    monkeypatch.setattr(metrics.AUDIT_EVENTS, "labels", broken)
    monkeypatch.setattr(metrics.REQUEST_DURATION, "labels", broken)
    monkeypatch.setattr(metrics.THROTTLED, "labels", broken)
    monkeypatch.setattr(metrics.DEPENDENCY_ERRORS, "labels", broken)
    assert login(Client(), "alice").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, method="session").count() == 1
    metrics.metrics_dependency_error("not-a-dependency")  # its label is made on the spot: the broken path


@override_settings(REST_FRAMEWORK=RELAXED)
def test_oauth2_revocation_and_code_replay_are_counted():
    from tests.oauth.conftest import authorize, code_from, exchange, pkce_pair

    user = make_user("alice")
    password_app, public_app = make_app("password"), make_app("authorization-code", client_type="public")
    delta = Delta()
    tokens = password_tokens(password_app, user)
    revoked = post_form("/o/revoke_token/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=password_app.basic())
    assert revoked.status_code == 200
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, public_app, scope="read", challenge=challenge))
    assert exchange(public_app, code, verifier, confidential=False).status_code == 200
    assert exchange(public_app, code, verifier, confidential=False).status_code == 400  # replayed: its tokens revoked
    assert delta("bouncer_credentials_revoked_total", kind="oauth2") == 2
    assert delta("bouncer_reuse_detections_total", kind="oauth2_code") == 1
    assert delta("bouncer_credentials_issued_total", kind="oauth2") == 2  # the password grant and the code's exchange
    # A code is not a sign-in of its own (the user signed in on the login page): only the password grant is.
    assert delta("bouncer_signins_total", method="oauth2", outcome="succeeded") == 1
