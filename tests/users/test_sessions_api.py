"""My sessions and devices: /api/accounts/sessions/ lists every live credential of the
caller across the four kinds, revokes one, or every one but the current."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import UserSession
from tests.conftest import make_user
from tests.security.test_credential_lifecycle import (
    KINDS,
    JwtCredential,
    OAuthCredential,
    SessionCredential,
    TokenCredential,
)

pytestmark = pytest.mark.django_db

SESSIONS = "/api/accounts/sessions/"
REVOKE_OTHERS = "/api/accounts/sessions/revoke-others/"


def all_kinds(user) -> dict:
    return {
        "session": SessionCredential(user),
        "token": TokenCredential(user),
        "jwt": JwtCredential(user),
        "oauth2": OAuthCredential(user),
    }


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_list_shows_every_kind_and_marks_the_current_one(kind):
    user = make_user("alice")
    held = all_kinds(user)
    response = held[kind].api().get(SESSIONS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 4
    rows = body["results"]
    assert sorted(row["kind"] for row in rows) == ["jwt", "oauth2", "session", "token"]
    assert [row["kind"] for row in rows if row["current"]] == [kind]
    for row in rows:
        assert set(row) == {"id", "kind", "device", "address", "created_at", "last_used_at", "current", "amr", "mfa"}
        assert row["id"].startswith(f"{row['kind']}_")
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["token"]["device"] == "phone"
    assert by_kind["token"]["address"] == "127.0.0.1"
    assert by_kind["session"]["address"] == "127.0.0.1"
    assert by_kind["oauth2"]["device"] == held["oauth2"].app.application.name


def test_ids_are_stable_and_never_a_secret_or_its_hash():
    user = make_user("alice")
    held = all_kinds(user)
    client = held["token"].api()
    first = client.get(SESSIONS).json()["results"]
    again = client.get(SESSIONS).json()["results"]
    assert sorted(r["id"] for r in first) == sorted(r["id"] for r in again)
    secrets = {
        held["token"].key, DeviceToken.objects.get(user=user).digest,
        held["session"].client.cookies["sessionid"].value,
        held["jwt"].pair["access"], held["jwt"].pair["refresh"], str(JwtFamily.objects.get(user=user).pk),
        held["oauth2"].tokens["access_token"], held["oauth2"].tokens["refresh_token"],
    }
    text = str(first)
    assert [s for s in secrets if s in text] == []
    assert str(DeviceToken.objects.get(user=user).pk) not in [r["id"].split("_", 1)[1] for r in first]


def test_list_shows_only_the_callers_credentials():
    alice, bob = make_user("alice"), make_user("bob")
    all_kinds(bob)
    mine = TokenCredential(alice)
    rows = mine.api().get(SESSIONS).json()["results"]
    assert [row["kind"] for row in rows] == ["token"]


def test_list_is_paginated():
    user = make_user("alice")
    current = TokenCredential(user)
    for n in range(3):
        TokenCredential(user, device_name=f"device-{n}")
    from django.conf import settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}):
        first = current.api().get(SESSIONS).json()
        assert first["count"] == 4 and len(first["results"]) == 2 and first["next"]
        second = current.api().get(SESSIONS, {"page": 2}).json()
    ids = {r["id"] for r in first["results"]} | {r["id"] for r in second["results"]}
    assert len(ids) == 4


@pytest.mark.parametrize("target", sorted(KINDS))
def test_delete_revokes_that_credential_only(target):
    user = make_user("alice")
    held = all_kinds(user)
    actor = TokenCredential(user, device_name="laptop")
    rows = actor.api().get(SESSIONS).json()["results"]
    victim_id = next(r["id"] for r in rows if r["kind"] == target and not r["current"])
    AuditEvent.objects.all().delete()
    response = actor.api().delete(f"{SESSIONS}{victim_id}/")
    assert response.status_code == 204, response.content
    assert list(AuditEvent.objects.values_list("action", "data__reason")) == [
        (AuditAction.LOGOUT if target == "session" else AuditAction.TOKEN_REVOKED, "revoked_by_user")
    ]
    assert held[target].surfaces_still_working() == []
    assert sorted(k for k, c in held.items() if c.works()) == sorted(set(KINDS) - {target})
    assert actor.works()
    left = [r["id"] for r in actor.api().get(SESSIONS).json()["results"]]
    assert victim_id not in left and len(left) == 4
    assert actor.api().delete(f"{SESSIONS}{victim_id}/").status_code == 404  # gone: unknown now


def test_another_users_id_answers_exactly_like_an_unknown_one():
    alice, bob = make_user("alice"), make_user("bob")
    bobs = all_kinds(bob)
    bob_ids = [r["id"] for r in bobs["token"].api().get(SESSIONS).json()["results"]]
    mallory = TokenCredential(alice)
    unknown = mallory.api().delete(f"{SESSIONS}token_000000000000000000000000/")
    garbage = mallory.api().delete(f"{SESSIONS}{'x' * 300}/")
    assert unknown.status_code == 404
    assert garbage.status_code == 404 and garbage.json() == unknown.json()
    for bob_id in bob_ids:
        response = mallory.api().delete(f"{SESSIONS}{bob_id}/")
        assert response.status_code == 404
        assert response.json() == unknown.json()
    assert sorted(k for k, c in bobs.items() if c.works()) == sorted(KINDS)
    assert not AuditEvent.objects.filter(user=bob, action__in=[AuditAction.TOKEN_REVOKED, AuditAction.LOGOUT]).exists()


def test_deleting_the_current_session_signs_it_out():
    user = make_user("alice")
    browser = SessionCredential(user)
    current = next(r for r in browser.client.get(SESSIONS).json()["results"] if r["current"])
    response = browser.client.delete(f"{SESSIONS}{current['id']}/")
    assert response.status_code == 204, response.content
    assert not browser.works()
    assert not UserSession.objects.filter(user=user).exists()


def test_session_writes_need_the_csrf_token():
    user = make_user("alice")
    browser = SessionCredential(user)
    TokenCredential(user)
    browser.client.credentials()  # drops X-CSRFToken, keeps the cookie
    assert browser.client.post(REVOKE_OTHERS).status_code == 403
    victim = next(r for r in browser.client.get(SESSIONS).json()["results"] if r["kind"] == "token")
    assert browser.client.delete(f"{SESSIONS}{victim['id']}/").status_code == 403
    assert DeviceToken.objects.filter(user=user).count() == 1


def test_anonymous_caller_is_refused():
    assert APIClient().get(SESSIONS).status_code == 401
    assert APIClient().post(REVOKE_OTHERS).status_code == 401


def test_oauth_token_needs_write_scope_to_revoke():
    user = make_user("alice")
    reader = OAuthCredential.__new__(OAuthCredential)
    from tests.oauth.conftest import make_app, password_tokens

    reader.app = make_app("password")
    reader.tokens = password_tokens(reader.app, user, scope="read")
    TokenCredential(user)
    assert reader.api().get(SESSIONS).status_code == 200
    assert reader.api().post(REVOKE_OTHERS).status_code == 403
    assert DeviceToken.objects.filter(user=user).count() == 1


def test_revocations_are_audited():
    user = make_user("alice")
    all_kinds(user)
    actor = TokenCredential(user, device_name="laptop")
    AuditEvent.objects.all().delete()
    response = actor.api().post(REVOKE_OTHERS)
    assert response.status_code == 200 and response.json() == {"revoked": 4}
    events = AuditEvent.objects.filter(user=user).values_list("action", "method", "data")
    assert sorted((action, method) for action, method, _ in events) == [
        (AuditAction.LOGOUT, "session"), (AuditAction.TOKEN_REVOKED, "jwt"),
        (AuditAction.TOKEN_REVOKED, "oauth2"), (AuditAction.TOKEN_REVOKED, "token"),
    ]
    assert {data["reason"] for _, _, data in events} == {"signed_out_elsewhere"}


@pytest.mark.parametrize("cache", [300, 0])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_last_used_is_written_at_most_once_per_few_minutes(kind, cache):
    from django.conf import settings
    from django.core.cache import cache as django_cache

    user = make_user("alice")
    long_jwt = {**settings.BOUNCER_JWT, "ACCESS_LIFETIME_SECONDS": 3600}
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=cache, BOUNCER_JWT=long_jwt):
        credential = KINDS[kind](user)
        viewer = TokenCredential(user, device_name="viewer")

        def last_used():
            rows = viewer.api().get(SESSIONS).json()["results"]
            return next(r["last_used_at"] for r in rows if r["kind"] == kind)

        signed_in = last_used()
        with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
            for _ in range(3):
                assert credential.works()
            assert last_used() == signed_in  # no write within the resolution
        with time_machine.travel(timezone.now() + timedelta(minutes=20), tick=False):
            django_cache.clear()  # as if every cached copy had expired
            assert credential.works()
            after = last_used()
            assert after != signed_in
            assert credential.works()
            assert last_used() == after  # one write, not one per request


def test_sessions_endpoints_are_in_the_openapi_schema(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/accounts/sessions/", "/api/accounts/sessions/{credential_id}/", "/api/accounts/sessions/revoke-others/"):
        assert path in schema


# --- the HTML page: /accounts/sessions/ ------------------------------------------------

PAGE = "/accounts/sessions/"


def page_browser(user):
    """A browser signed in on the HTML sign-in page, enforcing CSRF; and the page's CSRF token."""
    import re

    from django.test import Client

    from tests.conftest import PASSWORD

    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.content.decode()).group(1)
    response = browser.post("/accounts/login/", {"csrfmiddlewaretoken": token, "username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    page = browser.get(PAGE)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return browser, token


def test_page_lists_every_kind_with_labelled_sign_out_buttons_and_no_script():
    user = make_user("alice")
    held = {"token": TokenCredential(user), "jwt": JwtCredential(user), "oauth2": OAuthCredential(user)}
    browser, _ = page_browser(user)
    response = browser.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    assert "<script" not in html
    assert html.count('class="button button--danger" aria-label="Sign out ') == 4
    assert "(this device)" in html and held["oauth2"].app.application.name in html and "phone" in html
    assert held["token"].key not in html


def test_page_needs_a_signed_in_browser(db):
    from django.test import Client

    response = Client().get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_page_revokes_one_and_everything_else_with_csrf():
    user = make_user("alice")
    token, jwt = TokenCredential(user), JwtCredential(user)
    browser, csrf = page_browser(user)
    rows = token.api().get(SESSIONS).json()["results"]
    token_id = next(r["id"] for r in rows if r["kind"] == "token")
    assert browser.post(f"/accounts/sessions/{token_id}/revoke/").status_code == 403  # no CSRF token
    assert token.works()
    response = browser.post(f"/accounts/sessions/{token_id}/revoke/", {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not token.works() and jwt.works()
    response = browser.post("/accounts/sessions/revoke-others/", {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 302
    assert not jwt.works()
    assert browser.get(PAGE).status_code == 200  # this browser stays signed in


def test_page_revoking_another_users_id_is_404_and_changes_nothing():
    alice, bob = make_user("alice"), make_user("bob")
    bobs = TokenCredential(bob)
    bob_id = bobs.api().get(SESSIONS).json()["results"][0]["id"]
    browser, csrf = page_browser(alice)
    assert browser.post(f"/accounts/sessions/{bob_id}/revoke/", {"csrfmiddlewaretoken": csrf}).status_code == 404
    assert bobs.works()


def test_page_signing_out_this_browser_goes_to_sign_in():
    user = make_user("alice")
    browser, csrf = page_browser(user)
    rows = TokenCredential(user).api().get(SESSIONS).json()["results"]
    own = next(r["id"] for r in rows if r["kind"] == "session")
    response = browser.post(f"/accounts/sessions/{own}/revoke/", {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert browser.get(PAGE).status_code == 302


def test_oauth_authorization_is_listed_while_its_refresh_token_lives():
    user = make_user("alice")
    oauth = OAuthCredential(user)
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        viewer = TokenCredential(user, device_name="viewer")
        assert not oauth.works()  # the access token expired
        rows = viewer.api().get(SESSIONS).json()["results"]
        assert [r["kind"] for r in rows if r["kind"] == "oauth2"] == ["oauth2"]
        refreshed = oauth.surfaces_still_working()
        assert any(s.startswith("refresh grant") for s in refreshed)  # it still refreshes


def test_session_lifetime_counts_from_sign_in_even_when_used_every_day():
    """"Last used" saves the session every few minutes; that must not slide its expiry."""
    from django.conf import settings

    user = make_user("alice")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        browser = SessionCredential(user)
    age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    for day in range(1, age.days):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            assert browser.works(), day
    with time_machine.travel(start + age + timedelta(minutes=1), tick=False):
        from django.core.cache import cache

        cache.clear()  # Redis expires the cached copy in real time, which time-machine cannot move
        assert not browser.works()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_last_used_costs_one_write_per_resolution_and_no_query_when_warm(kind, django_assert_num_queries):
    """With the cache warm a request makes no query, even when its last use is due:
    only a database read (a miss) writes it, and sessions write once per 5 minutes."""
    from django.conf import settings

    user = make_user("alice")
    # Cached copies outlive the 5-minute resolution here, as they may in production.
    long_jwt = {**settings.BOUNCER_JWT, "ACCESS_LIFETIME_SECONDS": 3600}
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=3600, BOUNCER_JWT=long_jwt):
        credential = KINDS[kind](user)
        assert credential.works()  # warm
        client = credential.api()
        with django_assert_num_queries(0):
            assert client.get("/api/accounts/profile/").status_code == 200
        with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as captured:
                assert client.get("/api/accounts/profile/").status_code == 200
            statements = [q["sql"].split()[0] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
            # The session's one save, and its look that no revocation deleted the row
            # meanwhile (bouncer/users/sessions.py); the others write on their next
            # database read (a miss).
            assert statements == (["UPDATE", "SELECT"] if kind == "session" else [])
            with django_assert_num_queries(0):
                assert client.get("/api/accounts/profile/").status_code == 200
