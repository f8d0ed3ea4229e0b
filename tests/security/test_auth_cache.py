"""The auth cache never outlives a revocation: every change made through the
ORM is seen by the very next request (the whole suite also runs with the
cache on; these cases name the risky paths explicitly)."""

import pytest
from django.test import Client

from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User
from bouncer.users.usercache import user_cache_invalidate
from tests.conftest import PASSWORD, session_client, token_client

pytestmark = pytest.mark.django_db

URL = "/api/accounts/profile/"


@pytest.fixture(params=["session", "token"])
def warm_client(request, user):
    client = session_client(user) if request.param == "session" else token_client(user)
    assert client.get(URL).status_code == 200  # now cached
    return client


def test_deactivation_in_admin_signs_out_at_once(warm_client, user, staff):
    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    form = {
        "username": "alice", "email": "alice@example.com", "first_name": "", "last_name": "",
        "is_staff": "", "is_superuser": "", "last_login_0": "", "last_login_1": "",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    }  # is_active left out: unchecked
    response = admin.post(f"/admin/users/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert not User.objects.get(pk=user.pk).is_active
    assert warm_client.get(URL).status_code == 401


def test_staff_flag_change_is_seen_at_once(warm_client, user):
    assert warm_client.get("/api/accounts/users/").status_code == 403
    user.is_staff = True
    user.save()
    assert warm_client.get("/api/accounts/users/").status_code == 200


def test_deleted_user_is_signed_out_at_once(warm_client, user):
    user.delete()
    assert warm_client.get(URL).status_code == 401


def test_queryset_update_needs_explicit_invalidation(user):
    client = token_client(user)
    assert client.get(URL).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    # Documented: update() bypasses signals; the caller invalidates.
    user_cache_invalidate(user_id=user.pk)
    assert client.get(URL).status_code == 401


def test_revoked_token_fails_at_once_after_being_cached(api, user):
    token = api.post("/api/auth-token/", {"username": "alice", "password": PASSWORD}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(URL).status_code == 200
    DeviceToken.objects.filter(user=user).delete()  # queryset delete: signals still fire
    assert api.get(URL).status_code == 401


def test_warm_session_request_reads_user_and_session_in_one_round_trip(user, monkeypatch):
    from django.core.cache import cache

    from bouncer.users import usercache

    client = session_client(user)
    assert client.get(URL).status_code == 200  # the worker learns which user the session holds

    calls = []
    real_get_many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys, *a, **k: calls.append(len(keys)) or real_get_many(keys, *a, **k))
    monkeypatch.setattr(usercache, "user_cache_get", lambda **kw: pytest.fail("user should have been prefetched"))
    assert client.get(URL).json()["username"] == "alice"
    assert calls == [2]  # one get_many (one MGET on Redis): the session and its user


def test_prefetched_user_is_only_handed_out_once_and_for_its_own_id(user):
    from bouncer.core.modelcache import model_snapshot
    from bouncer.users.usercache import user_cache_prefetched_set, user_cache_prefetched_take

    user_cache_prefetched_set(user_id=user.pk, snapshot=model_snapshot(user))
    assert user_cache_prefetched_take(user_id=user.pk + 1) is None
    assert user_cache_prefetched_take(user_id=user.pk) is None  # consumed by the mismatching take
    user_cache_prefetched_set(user_id=user.pk, snapshot=model_snapshot(user))
    assert user_cache_prefetched_take(user_id=user.pk).username == "alice"
    assert user_cache_prefetched_take(user_id=user.pk) is None


def test_stale_copy_read_before_an_invalidation_is_not_cached(user):
    from bouncer.users.usercache import user_cache_get, user_cache_put

    stale = User.objects.get(pk=user.pk)  # a request read the row ...
    user.is_active = False
    user.save()  # ... an admin deactivates the user meanwhile ...
    user_cache_put(user=stale)  # ... and the request tries to cache what it read
    assert user_cache_get(user_id=user.pk).is_active is False


def test_invalidation_is_repeated_when_the_transaction_commits(user, django_capture_on_commit_callbacks):
    from django.core.cache import cache
    from django.db import transaction

    from bouncer.core.modelcache import model_snapshot
    from bouncer.users.usercache import user_cache_get, user_cache_key

    stale = model_snapshot(User.objects.get(pk=user.pk))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        user.is_active = False
        user.save()
        # Until the commit, other requests still read the old row; one of them
        # caches it (the race the on-commit pass exists for).
        cache.set(user_cache_key(user.pk), stale)
    assert user_cache_get(user_id=user.pk).is_active is False


def test_sign_in_does_not_invalidate_cached_copies_but_other_saves_do(user, monkeypatch):
    from bouncer.users import receivers

    calls = []
    monkeypatch.setattr(receivers, "user_cache_invalidate", lambda **kw: calls.append(kw["user_id"]))
    session_client(user)  # saves last_login only
    assert calls == []
    user.first_name = "Alice"
    user.save(update_fields=["first_name"])
    user.is_active = False
    user.save()
    assert calls == [user.pk, user.pk]
