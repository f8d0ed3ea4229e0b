"""One lifecycle for every credential kind: each event ends each credential at once,
through every surface it can be used on, with the auth cache warm and with it off.

4 kinds (session, DRF token, JWT sign-in, OAuth2 authorization) x 5 events
(password change elsewhere, password set by an admin, deactivation, deletion,
"sign out everywhere" from another credential)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

from bouncer.tokens.jwt.models import JwtFamily
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user, session_client
from tests.oauth.conftest import bearer as oauth_bearer
from tests.oauth.conftest import make_app, password_tokens, post_form

pytestmark = pytest.mark.django_db

PROFILE = "/api/accounts/profile/"
NEW_PASSWORD = "new-passphrase-77"


class Credential:
    """A live credential of one kind and every way it can be used."""

    kind: str

    def api(self) -> APIClient:  # pragma: no cover - overridden
        raise NotImplementedError

    def works(self) -> bool:
        return self.api().get(PROFILE).status_code == 200

    def surfaces_still_working(self) -> list[str]:
        """Surfaces on which the credential still works (empty: revoked)."""
        alive = []
        client = self.api()
        status = client.get(PROFILE).status_code
        if status != 401:
            alive.append(f"GET profile: {status}")
        write = client.patch(PROFILE, {"first_name": "Mallory"}, format="json").status_code
        if write != 401:
            alive.append(f"PATCH profile: {write}")
        return alive + self.extra_surfaces_alive()

    def extra_surfaces_alive(self) -> list[str]:
        return []


class SessionCredential(Credential):
    kind = "session"

    def __init__(self, user):
        self.client = session_client(user)

    def api(self):
        return self.client


class TokenCredential(Credential):
    kind = "token"

    def __init__(self, user, device_name="phone"):
        response = APIClient().post("/api/auth-token/", {"username": user.username, "password": PASSWORD, "device_name": device_name}, format="json")
        assert response.status_code == 200, response.content
        self.key = response.json()["token"]

    def api(self):
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.key}")
        return client


class JwtCredential(Credential):
    kind = "jwt"

    def __init__(self, user):
        response = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.content
        self.pair = response.json()

    def api(self):
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.pair['access']}")
        return client

    def extra_surfaces_alive(self):
        status = APIClient().post("/api/token/refresh/", {"refresh": self.pair["refresh"]}, format="json").status_code
        return [] if status == 401 else [f"refresh: {status}"]


class OAuthCredential(Credential):
    kind = "oauth2"

    def __init__(self, user):
        self.app = make_app("password")
        self.introspector = make_app("client-credentials")
        self.tokens = password_tokens(self.app, user, scope="openid read write")

    def api(self):
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens['access_token']}")
        return client

    def extra_surfaces_alive(self):
        alive = []
        refreshed = post_form(
            "/o/token/", {"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]},
            HTTP_AUTHORIZATION=self.app.basic(),
        )
        if refreshed.status_code != 400:
            alive.append(f"refresh grant: {refreshed.status_code}")
        for token in (self.tokens["access_token"], self.tokens["refresh_token"]):
            answer = post_form("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=self.introspector.basic())
            if answer.status_code != 200 or answer.json() != {"active": False}:
                alive.append(f"introspect: {answer.status_code} {answer.content[:80]!r}")
        userinfo = oauth_bearer(self.tokens["access_token"]).get("/o/userinfo/").status_code
        if userinfo not in (401, 403):
            alive.append(f"userinfo: {userinfo}")
        return alive


KINDS = {"session": SessionCredential, "token": TokenCredential, "jwt": JwtCredential, "oauth2": OAuthCredential}


def _other_token_client(user) -> APIClient:
    """Another sign-in of the same user (a DRF token on another device), the one acting."""
    response = APIClient().post("/api/auth-token/", {"username": user.username, "password": PASSWORD, "device_name": "laptop"}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def event_password_change(user):
    actor = _other_token_client(user)
    response = actor.post("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert actor.get(PROFILE).status_code == 200  # the credential that changed it stays


def event_password_set_by_admin(user):
    # What the admin's password form and `manage.py changepassword` both do.
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password(NEW_PASSWORD)
    fresh.save()


def event_deactivation(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.is_active = False
    fresh.save()


def event_deletion(user):
    User.objects.get(pk=user.pk).delete()


def event_sign_out_everywhere(user):
    actor = _other_token_client(user)
    response = actor.post("/api/accounts/sessions/revoke-others/")
    assert response.status_code == 200, response.content
    assert actor.get(PROFILE).status_code == 200


EVENTS = {
    "password_change": event_password_change,
    "password_set_by_admin": event_password_set_by_admin,
    "deactivation": event_deactivation,
    "deletion": event_deletion,
    "sign_out_everywhere": event_sign_out_everywhere,
}


@pytest.fixture(params=["cache_on", "cache_off"])
def cache_mode(request):
    if request.param == "cache_off":
        with override_settings(BOUNCER_AUTH_CACHE_SECONDS=0):
            yield request.param
    else:
        yield request.param  # tests run with BOUNCER_AUTH_CACHE_SECONDS=300


@pytest.mark.parametrize("event", sorted(EVENTS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_lifecycle_event_ends_credential_on_every_surface(cache_mode, kind, event):
    user = make_user("alice")
    credential = KINDS[kind](user)
    assert credential.works()  # and now its copies are cached (cache_on)
    assert credential.works()
    EVENTS[event](user)
    assert credential.surfaces_still_working() == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_password_change_keeps_the_credential_that_made_it(kind):
    user = make_user("alice")
    credential = KINDS[kind](user)
    client = credential.api()
    response = client.post("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert client.get(PROFILE).status_code == 200


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sign_out_everywhere_keeps_the_credential_that_asked(kind):
    user = make_user("alice")
    credential = KINDS[kind](user)
    others = [SessionCredential(user), TokenCredential(user, device_name="tablet"), JwtCredential(user), OAuthCredential(user)]
    client = credential.api()
    response = client.post("/api/accounts/sessions/revoke-others/")
    assert response.status_code == 200, response.content
    assert client.get(PROFILE).status_code == 200
    assert [other.kind for other in others if other.works()] == []


def test_changepassword_command_ends_every_credential(monkeypatch):
    user = make_user("alice")
    credentials = [KINDS[kind](user) for kind in sorted(KINDS)]
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=None)
    assert [c.kind for c in credentials if c.surfaces_still_working()] == []


def test_password_set_in_admin_ends_every_credential():
    user = make_user("alice")
    admin_user = make_user("root", is_staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    credentials = [KINDS[kind](user) for kind in sorted(KINDS)]
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        f"/admin/users/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert [c.kind for c in credentials if c.surfaces_still_working()] == []


@pytest.mark.parametrize("how", ["delete_page", "bulk_action"])
@pytest.mark.parametrize("cache", [300, 0])
def test_session_deleted_in_admin_stops_working_at_once(cache, how):
    user = make_user("alice")
    admin_user = make_user("root", is_staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=cache):
        victim = SessionCredential(user)
        assert victim.works()
        key = victim.client.cookies["sessionid"].value
        admin = Client()
        admin.force_login(admin_user)
        from bouncer.users.models import UserSession

        row = UserSession.objects.get(session_key=key)
        if how == "delete_page":
            response = admin.post(f"/admin/users/usersession/{row.pk}/delete/", {"post": "yes"})
        else:
            response = admin.post(
                "/admin/users/usersession/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
            )
        assert response.status_code == 302, response.content[:2000]
        assert not victim.works()


@pytest.mark.parametrize("cache", [300, 0])
def test_jwt_family_deleted_stops_its_access_tokens_at_once(cache):
    user = make_user("alice")
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=cache):
        victim = JwtCredential(user)
        assert victim.works()
        JwtFamily.objects.filter(user=user).delete()
        assert victim.surfaces_still_working() == []


def test_session_store_of_a_deleted_session_is_empty():
    """The cached copy goes with the row, so no node can load it again."""
    user = make_user("alice")
    victim = SessionCredential(user)
    key = victim.client.cookies["sessionid"].value
    from bouncer.users.models import UserSession
    from bouncer.users.sessions import SessionStore

    UserSession.objects.filter(session_key=key).delete()
    store: SessionBase = SessionStore(session_key=key)
    assert store.load() == {}


def test_admin_action_signs_a_user_out_everywhere():
    user = make_user("alice")
    bystander = make_user("bob")
    admin_user = make_user("root", is_staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    credentials = [SessionCredential(user), TokenCredential(user), JwtCredential(user), OAuthCredential(user)]
    untouched = TokenCredential(bystander)
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        "/admin/users/user/", {"action": "sign_out_everywhere", "_selected_action": [str(user.pk)]}
    )
    assert response.status_code == 302, response.content[:2000]
    assert [c.kind for c in credentials if c.surfaces_still_working()] == []
    assert untouched.works()
    assert admin.get("/admin/").status_code == 200  # the admin's own session is not the user's


def test_users_app_imports_no_credential_kind():
    """Account code reaches tokens, JWT and OAuth2 only through bouncer.core.credentials."""
    import ast
    from pathlib import Path

    import bouncer.users

    offenders = []
    for path in Path(bouncer.users.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name}: {name}" for name in names if name.startswith(("bouncer.tokens", "bouncer.oauth"))]
    assert offenders == []


def test_password_hash_upgrade_at_sign_in_revokes_nothing():
    """Django re-hashes an outdated hash at sign-in (check_password's setter); that
    is not a password set, so no other credential of the user may end."""
    from django.contrib.auth.hashers import make_password

    user = make_user("alice")
    # Not sessions: Django derives a session's auth hash from the stored password
    # hash, so its own check ends other browser sessions on an upgrade.
    held = [KINDS[kind](user) for kind in sorted(KINDS) if kind != "session"]
    User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha1"))
    SessionCredential(user)  # signs in: the hash is upgraded and saved
    assert User.objects.get(pk=user.pk).password.startswith("md5$")
    assert [c.kind for c in held if not c.works()] == []


@pytest.mark.parametrize("event", ["deactivation", "password_set_by_admin", "sign_out_everywhere"])
def test_approved_device_code_yields_no_token_after_a_lifecycle_event(event):
    """A device code the user approved but the device has not polled yet is part of
    the authorization: after the event, polling gets no token."""
    user = make_user("alice")
    app = make_app("device", client_type="public")
    start = post_form("/o/device-authorization/", {"client_id": app.client_id, "scope": "read"}).json()
    browser = Client()
    browser.force_login(user)
    entered = browser.post("/o/device/", {"user_code": start["user_code"]})
    assert browser.post(entered["Location"], {"action": "accept"}).status_code in (200, 302)
    EVENTS[event](user)
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": start["device_code"],
            "client_id": app.client_id}
    response = post_form("/o/token/", poll)
    assert response.status_code in (400, 404), response.content  # the toolkit: 404 device_not_found
    assert "access_token" not in response.json()


@pytest.mark.parametrize("event", ["deactivation", "password_set_by_admin", "sign_out_everywhere"])
def test_unredeemed_authorization_code_yields_no_token_after_a_lifecycle_event(event):
    from tests.oauth.conftest import authorize, code_from, exchange, pkce_pair

    user = make_user("alice")
    app = make_app("authorization-code")
    verifier, challenge = pkce_pair()
    code = code_from(authorize(user, app, challenge=challenge))
    EVENTS[event](user)
    response = exchange(app, code, verifier)
    assert response.status_code == 400, response.content
    assert "access_token" not in response.json()


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
    **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_account": "100/min"}})
def test_own_password_change_on_the_admin_page_keeps_that_page_signed_in_and_ends_the_rest():
    """/admin/password_change/ sets the password through Django's own form: the
    lifecycle revokes every other credential, and the admin page that made the
    change stays signed in (Django's update_session_auth_hash), as on the API."""
    staff = make_user("root", is_staff=True)
    others = [KINDS[kind](staff) for kind in sorted(KINDS)]
    admin = Client()
    assert admin.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    response = admin.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"].endswith("/admin/password_change/done/")
    assert admin.get("/admin/").status_code == 200
    assert [c.kind for c in others if c.surfaces_still_working()] == []


@override_settings(BOUNCER_AUTH_CACHE_SECONDS=0)
def test_session_revoked_on_another_node_without_a_shared_cache_stops_working():
    """Without Redis every process has its own cache. A session revoked on
    another node (or worker) deletes the row and only that process's cached
    copy, which a raw DELETE stands in for here: this process must not keep
    serving the session from its own cache."""
    from django.db import connection

    from bouncer.users.models import UserSession

    client = session_client(make_user("alice"))
    assert client.get(PROFILE).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {UserSession._meta.db_table}")
    assert client.get(PROFILE).status_code == 401
