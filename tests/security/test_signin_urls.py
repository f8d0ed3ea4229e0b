"""Every URL that checks a password or a client secret goes through the sign-in flow.

The URLs are not a hand list: every pattern of the URLconf is probed with a
POST carrying a wrong password and a wrong client secret under each field
name a password arrives in (anonymous, then signed in), and with PUT, PATCH
and DELETE signed in (JSON, or a form when JSON is refused); a URL "takes a
password or a client secret" when a password hasher verified something
while it answered. Each such URL must carry the
flow's mark (``bouncer.users.signin.signin_entry_point``) and have a driver
below, which proves it is throttled, locks out (passwords) and writes audit
rows. A new endpoint that checks a password without the flow fails here.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hashers
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.oauth.conftest import make_app, post_form

pytestmark = pytest.mark.django_db

RELAXED = {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}


def rates(**overrides):
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**RELAXED, **overrides}}


# --- walking the URLconf --------------------------------------------------------------------

_GROUP = re.compile(r"\((\?P<\w+>)?([^()]*)\)")


def _sample_group(match: re.Match) -> str:
    inner = match.group(2)
    if "|" in inner:
        return inner.split("|")[0].replace("\\", "")
    return "1"


def _sample(regex: str) -> str:
    """A path the regex matches, built the simple way Django's own patterns allow."""
    previous = None
    while previous != regex:
        previous, regex = regex, _GROUP.sub(_sample_group, regex)
    path = regex.replace("^", "").replace("$", "").replace("\\Z", "").replace("/?", "/").replace("\\", "")
    return "/" + path.replace(".*", "").replace(".+", "x")


def url_patterns(patterns=None, prefix=""):
    """(path, callback) for every leaf pattern of the URLconf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, regex)
        elif isinstance(pattern, URLPattern):
            yield _sample(regex), pattern.callback


def _marked(callback) -> str | None:
    return getattr(callback, "signin_method", None) or getattr(getattr(callback, "view_class", None), "signin_method", None)


@contextmanager
def verifications():
    """Counts password-hasher verifications (passwords and client secrets alike)."""
    seen = []
    patches = []
    for hasher in get_hashers():
        original = type(hasher).verify

        def spy(self, password, encoded, _original=original):
            seen.append(type(self).__name__)
            return _original(self, password, encoded)

        patches.append(mock.patch.object(type(hasher), "verify", spy))
    for patch in patches:
        patch.start()
    try:
        yield seen
    finally:
        for patch in reversed(patches):
            patch.stop()


def probe_bodies(client_id: str) -> list[dict]:
    """The shapes a password or a secret arrives in (inputs refuse unknown fields, so one each)."""
    client = {"client_id": client_id, "client_secret": "wrong-secret"}
    return [
        {"username": "alice", "password": "wrong-password"},
        {"password": "wrong-password"},
        {"current_password": "wrong-password"},
        {"old_password": "wrong-password", "new_password": "n3w-Passw0rd-x"},
        {"grant_type": "password", "username": "alice", "password": "wrong-password", **client},
        {"token": "x", **client},
    ]


def _probes(anonymous, signed_in, staff):
    """(client, method) pairs: POST as everyone; the other writes signed in (a
    password confirmation behind PUT, PATCH or DELETE guards an account's own
    change), the staff's admin pages being POST forms."""
    yield from ((client, "post") for client in (anonymous, signed_in, staff))
    yield from ((signed_in, method) for method in ("put", "patch", "delete"))


def _send(client, method, path, body):
    """A form POST (what pages and OAuth clients send), JSON for the other
    methods; a 415 retries in the other encoding, so a JSON-only or form-only
    endpoint is reached either way."""
    as_json = method != "post"
    for encoding in (as_json, not as_json):
        if encoding:
            response = getattr(client, method)(path, json.dumps(body), content_type="application/json")
        elif method == "post":
            response = client.post(path, body)
        else:
            response = getattr(client, method)(path, urlencode(body), content_type="application/x-www-form-urlencoded")
        if response.status_code != 415:
            return response
    return response


@override_settings(REST_FRAMEWORK=rates())  # the probe itself must not be throttled
def verifying_urls() -> dict[str, object]:
    user = User.objects.get(username="alice")
    root = User.objects.filter(username="root").first() or User.objects.create_superuser("root", "root@example.com", PASSWORD)
    app = make_app("password")
    found, unresolvable = {}, []
    for path, callback in url_patterns():
        try:
            match = resolve(path)
        except Exception:  # noqa: BLE001 - reported below
            unresolvable.append(path)
            continue
        if match.func is not callback:
            continue  # shadowed by an earlier pattern (e.g. the admin login we mount first)
        signed_in, staff = Client(), Client()
        signed_in.force_login(user)
        staff.force_login(root)
        for client, method in _probes(Client(), signed_in, staff):
            for body in probe_bodies(app.client_id):
                cache.clear()  # no lockout or throttle left by the previous probe
                # Rolled back: a staff POST to an admin page may change or delete rows.
                with transaction.atomic(), verifications() as seen:
                    response = _send(client, method, path, body)
                    transaction.set_rollback(True)
                if seen:
                    found[path] = callback
                if response.status_code == 405:
                    break  # no such method here: the other bodies would answer the same
    assert not unresolvable, f"could not build a path for {unresolvable}: teach _sample their syntax"
    return found


# --- what each way in must prove -------------------------------------------------------------


def _json(path):
    return lambda username, password, addr: APIClient().post(path, {"username": username, "password": password}, format="json", REMOTE_ADDR=addr)


def _form(path, **extra):
    return lambda username, password, addr: Client(REMOTE_ADDR=addr).post(path, {"username": username, "password": password, **extra})


def _password_grant(username, password, addr):
    app = make_app("password")
    return post_form("/o/token/", {"grant_type": "password", "username": username, "password": password},
                     client=Client(REMOTE_ADDR=addr), HTTP_AUTHORIZATION=app.basic())


def _password_change(username, password, addr):
    client = APIClient(REMOTE_ADDR=addr)
    client.force_authenticate(User.objects.get(username=username))
    return client.post("/api/accounts/password/change/", {"old_password": password, "new_password": "n3w-Passw0rd-x"}, format="json")


def _admin_password_change(username, password, addr):
    client = Client(REMOTE_ADDR=addr)
    client.force_login(User.objects.get(username=username))
    return client.post("/admin/password_change/", {"old_password": password, "new_password1": "n3w-Passw0rd-x", "new_password2": "n3w-Passw0rd-x"})


#: path → (how to try a password there, the audit method, the per-address scope or None)
PASSWORD_DRIVERS = {
    "/api/accounts/login/": (_json("/api/accounts/login/"), "session", "login"),
    "/accounts/login/": (_form("/accounts/login/"), "session", "login"),
    "/admin/login/": (_form("/admin/login/"), "admin", "login"),
    "/api/auth-token/": (_json("/api/auth-token/"), "token", "token"),
    "/api/token/": (_json("/api/token/"), "jwt", "token"),
    "/o/token/": (_password_grant, "oauth2", "token"),
    "/api/accounts/password/change/": (_password_change, "password_change", None),
    "/admin/password_change/": (_admin_password_change, "admin_password_change", None),
}


def _client_auth(path):
    def attempt(client_id, secret, addr):
        return post_form(path, {"token": "x", "client_id": client_id, "client_secret": secret}, client=Client(REMOTE_ADDR=addr))

    return attempt


#: path → (how to try a client secret there, the per-address scope)
CLIENT_SECRET_DRIVERS = {
    "/o/token/": (lambda client_id, secret, addr: post_form(
        "/o/token/", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        client=Client(REMOTE_ADDR=addr)), "oauth_token"),
    "/o/introspect/": (_client_auth("/o/introspect/"), "oauth_client"),
    "/o/revoke_token/": (_client_auth("/o/revoke_token/"), "oauth_client"),
}


@pytest.fixture
def alice(db):
    return make_user("alice", is_staff=True)  # staff: the admin's own pages are ways in too


def test_every_url_that_checks_a_password_or_secret_is_in_the_flow(alice):
    found = verifying_urls()
    assert found, "the probe found nothing: it is broken"
    unmarked = sorted(path for path, callback in found.items() if not _marked(callback))
    assert not unmarked, f"these URLs check a password or secret outside the sign-in flow: {unmarked}"
    undriven = sorted(set(found) - set(PASSWORD_DRIVERS) - set(CLIENT_SECRET_DRIVERS))
    assert not undriven, f"give these URLs a driver below, proving throttle, lockout and audit: {undriven}"
    # And no driver is stale: each one's URL still checks a password or secret.
    assert set(PASSWORD_DRIVERS) | set(CLIENT_SECRET_DRIVERS) == set(found)


@pytest.mark.parametrize("path", sorted(PASSWORD_DRIVERS))
@override_settings(REST_FRAMEWORK=rates(), BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_password_url_locks_out_and_audits(alice, path):
    attempt, method, _ = PASSWORD_DRIVERS[path]
    failures = [attempt("alice", f"wrong-{i}", f"10.20.0.{i}").status_code for i in range(3)]
    assert 429 not in failures and all(code < 500 for code in failures)
    locked = attempt("alice", PASSWORD, "10.20.1.1")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username="alice", method=method).count() == 4
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice", method=method).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()


@pytest.mark.parametrize("path", sorted(PASSWORD_DRIVERS))
def test_password_url_is_throttled_per_account_across_addresses(alice, path):
    attempt, _, _ = PASSWORD_DRIVERS[path]
    with override_settings(REST_FRAMEWORK=rates(login_account="2/min")):
        for i in range(2):
            assert attempt("alice", "wrong", f"10.21.0.{i}").status_code != 429
        refused = attempt("alice", PASSWORD, "10.21.9.9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


@pytest.mark.parametrize("path", sorted(path for path, driver in PASSWORD_DRIVERS.items() if driver[2]))
def test_password_url_is_throttled_per_address(alice, path):
    attempt, _, scope = PASSWORD_DRIVERS[path]
    with override_settings(REST_FRAMEWORK=rates(**{scope: "2/min"})):
        for i in range(2):
            assert attempt(f"someone{i}", "wrong", "10.22.0.1").status_code != 429
        refused = attempt("alice", PASSWORD, "10.22.0.1")
        elsewhere = attempt("alice", PASSWORD, "10.22.0.2")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert elsewhere.status_code != 429


@pytest.mark.parametrize("path", sorted(CLIENT_SECRET_DRIVERS))
def test_client_secret_url_is_throttled_per_address_and_audits(db, path):
    attempt, scope = CLIENT_SECRET_DRIVERS[path]
    app = make_app("client-credentials")
    with override_settings(REST_FRAMEWORK=rates(**{scope: "2/min"})):
        failures = [attempt(app.client_id, "wrong-secret", "10.23.0.1").status_code for _ in range(2)]
        refused = attempt(app.client_id, app.secret, "10.23.0.1")
    assert failures == [401, 401]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_AUTH_FAILED).count() == 2


@override_settings(ROOT_URLCONF="tests.security.signin_probe_urls")
def test_probe_finds_a_password_check_behind_another_method_field_and_parser(alice):
    """The probe itself: a password check behind DELETE, JSON only, under
    ``current_password`` must be found (it slipped past a POST-only probe)."""
    assert set(verifying_urls()) == {"/api/accounts/close/"}
