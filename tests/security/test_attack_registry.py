"""Attack pass on the credential registry and "my sessions and devices" (issue 8):
each test is an attack tried on the merged code (docs/security.md, "Found in the
attack pass", says which ones worked)."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from bouncer.users.models import User, UserSession
from bouncer.users.sessions import SessionStore
from tests.conftest import PASSWORD, make_user
from tests.oauth.conftest import make_app, password_tokens, post_form
from tests.security.test_credential_lifecycle import KINDS, JwtCredential, OAuthCredential, SessionCredential, TokenCredential

pytestmark = pytest.mark.django_db

PROFILE = "/api/accounts/profile/"
SESSIONS = "/api/accounts/sessions/"


def test_session_revoked_while_another_request_reads_its_row_is_not_cached_back(monkeypatch, django_capture_on_commit_callbacks):
    """A request that missed the session cache reads the row, the session is
    revoked (row and cached copy deleted, even again at commit), and only then
    does that request store what it read: the revoked session must not come back
    from the cache (it would live there for SESSION_COOKIE_AGE)."""
    user = make_user("alice")
    victim = SessionCredential(user)
    actor = TokenCredential(user, device_name="laptop")
    key = victim.client.cookies[settings.SESSION_COOKIE_NAME].value
    caches[settings.SESSION_CACHE_ALIAS].delete(SessionStore(session_key=key).cache_key)  # a cold node
    read_row = SessionStore._get_session_from_db

    def read_then_revoked(self):
        row = read_row(self)  # the row is read while the session is live ...
        if row is not None and self.session_key == key:
            with django_capture_on_commit_callbacks(execute=True):
                assert actor.api().post(f"{SESSIONS}revoke-others/").json() == {"revoked": 1}  # ... then revoked
        return row

    monkeypatch.setattr(SessionStore, "_get_session_from_db", read_then_revoked)
    victim.client.get(PROFILE)  # the request that was in flight
    monkeypatch.setattr(SessionStore, "_get_session_from_db", read_row)
    assert not UserSession.objects.filter(session_key=key).exists()
    assert victim.client.get(PROFILE).status_code == 401


class _SameAppDevice(OAuthCredential):
    """One more sign-in through an application the user already uses (another phone)."""

    def __init__(self, user, app, introspector):
        self.app, self.introspector = app, introspector
        self.tokens = password_tokens(app, user, scope="openid read write")


@pytest.mark.parametrize("event", ["password_change", "sign_out_everywhere"])
def test_stolen_token_of_the_same_oauth_application_dies_when_the_user_acts_through_it(event):
    """The attacker holds tokens of the very application the user changes the
    password (or signs out everywhere else) through: "all but the current
    credential" must keep the user's own token pair, not every device of the app."""
    user = make_user("alice")
    attacker = OAuthCredential(user)
    mine = _SameAppDevice(user, attacker.app, attacker.introspector)
    if event == "password_change":
        response = mine.api().post("/api/accounts/password/change/", {"old_password": PASSWORD, "new_password": "new-passphrase-77"}, format="json")
    else:
        response = mine.api().post(f"{SESSIONS}revoke-others/")
    assert response.status_code == 200, response.content
    assert attacker.surfaces_still_working() == []
    assert mine.works()
    listed = mine.api().get(SESSIONS).json()["results"]
    assert [(r["kind"], r["current"]) for r in listed] == [("oauth2", True)]


@pytest.mark.parametrize("cache", [300, 0])
def test_password_disabled_in_admin_ends_every_credential(cache):
    """The admin's "Password-based authentication: Disabled" (``set_unusable_password``)
    is what an operator does to a compromised account: every token must end too,
    not only the browser sessions Django's own session hash check ends."""
    user = make_user("alice")
    admin_user = make_user("root", is_staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=cache):
        held = [KINDS[kind](user) for kind in sorted(KINDS)]
        assert [c.kind for c in held if not c.works()] == []
        admin = Client()
        admin.force_login(admin_user)
        response = admin.post(f"/admin/users/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"})
        assert response.status_code == 302, response.content[:2000]
        assert not User.objects.get(pk=user.pk).has_usable_password()
        assert [c.kind for c in held if c.surfaces_still_working()] == []


@pytest.mark.django_db(transaction=True)
def test_sign_out_everywhere_racing_refreshes_and_uses_leaves_nothing_of_before_alive():
    """"Sign out everywhere else" while every older credential is being used and
    its JWT / OAuth2 refresh token rotated, all at once on their own connections
    (real threads; meaningful on PostgreSQL): none of the older credentials, and
    no successor a racing refresh minted from one, works afterwards."""
    user = make_user("alice")
    held = [KINDS[kind](user) for kind in sorted(KINDS)]
    actor = TokenCredential(user, device_name="laptop")
    jwts = [c for c in held if c.kind == "jwt"]
    oauths = [c for c in held if c.kind == "oauth2"]
    barrier = threading.Barrier(1 + len(jwts) + len(oauths) + len(held))
    minted, errors, lock = [], [], threading.Lock()

    def run(job):
        try:
            barrier.wait(timeout=30)
            result = job()
            if result is not None:
                with lock:
                    minted.append(result)
        except Exception as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    def revoke():
        assert actor.api().post(f"{SESSIONS}revoke-others/").status_code == 200

    def refresh_jwt(credential):
        response = APIClient().post("/api/token/refresh/", {"refresh": credential.pair["refresh"]}, format="json")
        assert response.status_code in (200, 401), (response.status_code, response.content)
        if response.status_code == 200:
            successor = JwtCredential.__new__(JwtCredential)
            successor.pair = {"refresh": credential.pair["refresh"], **response.json()}
            return successor

    def refresh_oauth(credential):
        response = post_form(
            "/o/token/", {"grant_type": "refresh_token", "refresh_token": credential.tokens["refresh_token"]},
            HTTP_AUTHORIZATION=credential.app.basic(),
        )
        assert response.status_code in (200, 400), (response.status_code, response.content)
        if response.status_code == 200:
            successor = OAuthCredential.__new__(OAuthCredential)
            successor.app, successor.introspector, successor.tokens = credential.app, credential.introspector, response.json()
            return successor

    def use(credential):
        credential.api().get(PROFILE)

    jobs = [revoke] + [lambda c=c: refresh_jwt(c) for c in jwts] + [lambda c=c: refresh_oauth(c) for c in oauths]
    jobs += [lambda c=c: use(c) for c in held]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    alive = [(c.kind, c.surfaces_still_working()) for c in held + minted]
    assert [entry for entry in alive if entry[1]] == []
    assert actor.works()


@pytest.mark.parametrize("cache", [300, 0])
@pytest.mark.parametrize("how", ["delete_page", "bulk_action"])
def test_admin_deletes_a_user_who_used_oauth_and_every_credential_ends(how, cache):
    """django-oauth-toolkit's admin forbids deleting token rows by hand, which
    made the admin refuse (403) to delete any user who ever got an OAuth2
    token; the deletion must go through and take every credential with it."""
    user = make_user("alice")
    admin_user = make_user("root", is_staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    with override_settings(BOUNCER_AUTH_CACHE_SECONDS=cache):
        held = [KINDS[kind](user) for kind in sorted(KINDS)]
        assert [c.kind for c in held if not c.works()] == []
        admin = Client()
        admin.force_login(admin_user)
        if how == "delete_page":
            confirm = admin.get(f"/admin/users/user/{user.pk}/delete/")
            assert confirm.status_code == 200 and not confirm.context["perms_lacking"]
            response = admin.post(f"/admin/users/user/{user.pk}/delete/", {"post": "yes"})
        else:
            response = admin.post("/admin/users/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"})
        assert response.status_code == 302, response.content[:500]
        assert not User.objects.filter(pk=user.pk).exists()
        assert [(c.kind, c.surfaces_still_working()) for c in held if c.surfaces_still_working()] == []


def test_session_revoked_between_its_save_and_its_cache_write_is_not_cached_back(monkeypatch, django_capture_on_commit_callbacks):
    """The same race on the write path: a request of the session saves it (its
    coarse "last used", a message) to the row, the session is revoked, and only
    then does that request write its copy to the cache."""
    user = make_user("alice")
    victim = SessionCredential(user)
    actor = TokenCredential(user, device_name="laptop")
    key = victim.client.cookies[settings.SESSION_COOKIE_NAME].value
    cache = caches[settings.SESSION_CACHE_ALIAS]
    cache_key = SessionStore(session_key=key).cache_key
    write = cache.set

    pending = [True]

    def revoked_then_written(name, *args, **kwargs):
        if name == cache_key and pending:
            pending.clear()
            with django_capture_on_commit_callbacks(execute=True):
                assert actor.api().post(f"{SESSIONS}revoke-others/").json() == {"revoked": 1}
        return write(name, *args, **kwargs)

    store = SessionStore(session_key=key)
    store.load()
    store["note"] = "saved by a request in flight"
    monkeypatch.setattr(cache, "set", revoked_then_written)
    store.save()  # the row is updated, then the session is revoked, then the cache is written
    monkeypatch.setattr(cache, "set", write)
    assert not UserSession.objects.filter(session_key=key).exists()
    assert victim.client.get(PROFILE).status_code == 401


def test_admin_session_list_never_hands_a_session_key_to_staff():
    """A session key is a bearer secret: the admin's session list linked each row
    by it (``/admin/users/usersession/<key>/change/``, also in request logs), so a
    staffer allowed only to view sessions could copy a superuser's and become them."""
    from django.contrib.auth.models import Permission

    root = make_user("root", is_staff=True)
    root.is_superuser = True
    root.save()
    victim = SessionCredential(root)
    key = victim.client.cookies[settings.SESSION_COOKIE_NAME].value
    support = make_user("support", is_staff=True)
    support.user_permissions.set(Permission.objects.filter(content_type__model="usersession"))
    browser = Client()
    browser.force_login(support)
    for path in ("/admin/users/usersession/", f"/admin/users/usersession/{key}/change/", f"/admin/users/usersession/{key}/delete/"):
        response = browser.get(path)
        assert key not in response.content.decode(), path
        assert response.status_code in (302, 403), (path, response.status_code)
    superuser = Client()
    superuser.force_login(root)
    listing = superuser.get("/admin/users/usersession/")
    assert listing.status_code == 200
    assert f"/usersession/{key}/" not in listing.content.decode()  # no row links a key into a URL
    assert victim.works()


def _answer(response) -> tuple:
    return response.status_code, response.content, sorted((k, v) for k, v in response.headers.items() if k != "Date")


def test_other_users_and_malformed_ids_answer_byte_for_byte_like_an_unknown_one():
    """Status, body and every header: nothing tells another user's live id, or an id
    of the wrong shape (NUL, bad UTF-8, huge, another kind), from an unknown one."""
    alice, bob = make_user("alice"), make_user("bob")
    bobs = [KINDS[kind](bob) for kind in sorted(KINDS)]
    bob_ids = [r["id"] for r in bobs[1].api().get(SESSIONS).json()["results"]]
    mallory = TokenCredential(alice)
    unknown = _answer(mallory.api().delete(f"{SESSIONS}token_000000000000000000000000/"))
    assert unknown[0] == 404
    odd = ["x" * 5000, "%00", "token_%00", "session_%C3%A9", "%FF%FE", "oauth2_1", "jwt_", "_", "token", "nokind_abc"]
    for credential_id in bob_ids + odd:
        assert _answer(mallory.api().delete(f"{SESSIONS}{credential_id}/")) == unknown, credential_id
    assert [c.kind for c in bobs if not c.works()] == []


def test_oauth_token_without_write_revokes_nothing_not_even_itself():
    user = make_user("alice")
    reader = OAuthCredential.__new__(OAuthCredential)
    reader.app = make_app("password")
    reader.tokens = password_tokens(reader.app, user, scope="read")
    other = TokenCredential(user)
    ids = [r["id"] for r in reader.api().get(SESSIONS).json()["results"]]
    assert len(ids) == 2
    for credential_id in ids:
        assert reader.api().delete(f"{SESSIONS}{credential_id}/").status_code == 403
    assert reader.api().post(f"{SESSIONS}revoke-others/").status_code == 403
    assert other.works() and reader.works()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_concurrent_deletes_of_one_id_revoke_it_once(kind):
    """The same DELETE sent N times at once (a double click, a retrying client):
    one 204, every other answer the unknown id's 404, one audit row."""
    from bouncer.audit.models import AuditAction, AuditEvent

    user = make_user("alice")
    victim = KINDS[kind](user)
    actors = [TokenCredential(user, device_name=f"laptop-{n}") for n in range(4)]
    listed = actors[0].api().get(SESSIONS).json()["results"]
    victim_id = next(r["id"] for r in listed if r["kind"] == kind and not r["device"].startswith("laptop-"))
    before = AuditEvent.objects.filter(action__in=[AuditAction.TOKEN_REVOKED, AuditAction.LOGOUT]).count()
    barrier = threading.Barrier(len(actors))
    statuses, lock = [], threading.Lock()

    def delete(actor):
        try:
            barrier.wait(timeout=30)
            status = actor.api().delete(f"{SESSIONS}{victim_id}/").status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=delete, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [204] + [404] * (len(actors) - 1)
    assert AuditEvent.objects.filter(action__in=[AuditAction.TOKEN_REVOKED, AuditAction.LOGOUT]).count() == before + 1
    assert not victim.works()
