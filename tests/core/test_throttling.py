import pytest
from django.test import override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def rates(**overrides):
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **overrides}}


@pytest.mark.parametrize(
    "url, scope",
    [("/api/accounts/login/", "login"), ("/api/auth-token/", "token")],
)
def test_login_endpoints_throttle_per_client_address(api, user, url, scope):
    with override_settings(REST_FRAMEWORK=rates(**{scope: "3/min", "login_account": "100/min"})):
        codes = [api.post(url, {"username": f"user{i}", "password": "x"}, format="json").status_code for i in range(4)]
        assert codes == [400, 400, 400, 429]
        blocked = api.post(url, {"username": "alice", "password": PASSWORD}, format="json")
        assert blocked.status_code == 429
        assert "Retry-After" in blocked
        assert "detail" in blocked.json()
        # Another address is not affected.
        other = api.post(url, {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR="10.9.9.9")
        assert other.status_code == 200


def test_login_throttles_per_account_across_addresses(api, user):
    with override_settings(REST_FRAMEWORK=rates(login="100/min", login_account="2/min")):
        for i in range(2):
            api.post("/api/accounts/login/", {"username": "alice", "password": "bad"}, format="json", REMOTE_ADDR=f"10.0.0.{i}")
        # Same account (any case) from a new address: blocked even with the right password.
        response = api.post(
            "/api/accounts/login/", {"username": "ALICE", "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.77"
        )
        assert response.status_code == 429
        assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()
        # Another account from that address is fine.
        assert (
            api.post("/api/accounts/login/", {"username": "bob", "password": "x"}, format="json", REMOTE_ADDR="10.0.0.77").status_code
            == 400
        )


def test_register_is_throttled(api):
    with override_settings(REST_FRAMEWORK=rates(register="2/hour")):
        codes = [
            api.post(
                "/api/accounts/register/",
                {"username": f"new{i}", "email": f"new{i}@example.com", "password": "testpass123"},
                format="json",
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 429]


def test_default_rates_allow_a_human_but_stop_a_script(api, user):
    # Default: 10/min per address, 5/min per account.
    codes = [api.post("/api/accounts/login/", {"username": "alice", "password": "bad"}, format="json").status_code for _ in range(6)]
    assert codes[:5] == [400] * 5
    assert codes[5] == 429


def test_jwt_refresh_has_its_own_per_address_rate(api):
    with override_settings(REST_FRAMEWORK=rates(refresh="2/min", token="100/min")):
        codes = [api.post("/api/token/refresh/", {"refresh": "x.y.z"}, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_throttle_window_slides_instead_of_resetting(api):
    import time_machine

    with override_settings(REST_FRAMEWORK=rates(refresh="3/min", token="100/min")), time_machine.travel(
        "2026-01-01 12:00:00+00:00", tick=False
    ) as clock:
        post = lambda: api.post("/api/token/refresh/", {"refresh": "x.y.z"}, format="json").status_code  # noqa: E731
        assert [post() for _ in range(4)] == [401, 401, 401, 429]
        # A quarter into the next minute, three quarters of the last minute's 3 counted
        # requests still count (2.25) plus this one: over 3. A fixed window would have
        # let 3 more through at once.
        clock.move_to("2026-01-01 12:01:15+00:00")
        assert post() == 429
        # Three quarters in, a quarter of them (0.75) counts: two more fit (refused
        # attempts are not counted, so the 429s above cost nothing).
        clock.move_to("2026-01-01 12:01:45+00:00")
        assert [post() for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize("rate, burst", [("3/min", 3), ("10/min", 10), ("1/min", 1), ("5/hour", 5)])
def test_client_that_waits_retry_after_is_not_refused_again(api, rate, burst):
    """Before: refused attempts counted and Retry-After was the window's end, so an
    obedient client got a second 429 (the previous window's weight still counted)."""
    import datetime

    import time_machine

    start = datetime.datetime(2026, 1, 1, 12, 0, 7, tzinfo=datetime.timezone.utc)
    with override_settings(REST_FRAMEWORK=rates(refresh=rate)), time_machine.travel(start, tick=False) as clock:
        post = lambda: api.post("/api/token/refresh/", {"refresh": "x.y.z"}, format="json")  # noqa: E731
        assert [post().status_code for _ in range(burst)] == [401] * burst
        for _ in range(3):  # an obedient client: each time, exactly the wait it was told
            refused = post()
            assert refused.status_code == 429
            wait = int(refused["Retry-After"])
            assert wait >= 1
            clock.shift(datetime.timedelta(seconds=wait))
            assert post().status_code == 401
        # ...and the wait is not a lie the other way: one second earlier was still refused.
        refused = post()
        wait = int(refused["Retry-After"])
        if wait > 1:
            clock.shift(datetime.timedelta(seconds=wait - 1))
            assert post().status_code == 429


def test_refused_attempts_do_not_extend_the_window(api):
    import datetime

    import time_machine

    with override_settings(REST_FRAMEWORK=rates(refresh="2/min")), time_machine.travel(
        "2026-01-01 12:00:00+00:00", tick=False
    ) as clock:
        post = lambda: api.post("/api/token/refresh/", {"refresh": "x.y.z"}, format="json")  # noqa: E731
        assert [post().status_code for _ in range(2)] == [401, 401]
        first_wait = int(post()["Retry-After"])
        for _ in range(50):  # a client hammering
            assert post().status_code == 429
        assert int(post()["Retry-After"]) == first_wait
        clock.shift(datetime.timedelta(seconds=first_wait))
        assert post().status_code == 401


def test_parallel_burst_cannot_pass_the_limit():
    """DRF's SimpleRateThrottle reads, appends and writes back a list, so parallel requests
    overwrite each other's entries; the counter is incremented atomically."""
    import threading

    from rest_framework.test import APIRequestFactory

    from bouncer.core.throttling import RefreshThrottle

    allowed, barrier = [], threading.Barrier(8)

    def hit():
        barrier.wait()
        for _ in range(5):
            request = APIRequestFactory().post("/api/token/refresh/", REMOTE_ADDR="10.77.0.1")
            allowed.append(RefreshThrottle().allow_request(request, None))

    with override_settings(REST_FRAMEWORK=rates(refresh="10/hour")):
        threads = [threading.Thread(target=hit) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert allowed.count(True) == 10
    assert len(allowed) == 40


def test_counter_is_one_atomic_increment_with_an_expiry():
    """With Redis: INCR + EXPIRE + the previous window's GET in one pipeline, never
    django-redis's Lua incr; in-process: the cache's own incr. Either way the count is shared."""
    import time
    from unittest import mock

    from django.core.cache import cache, caches
    from django_redis.cache import RedisCache

    from bouncer.core.throttling import counter_hit

    now = time.time()
    window = int(now // 60)
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        with mock.patch.object(type(backend), "incr", side_effect=AssertionError("Lua incr used")):
            assert counter_hit("test:ttl", duration=60, now=now)[0] == 1
            assert counter_hit("test:ttl", duration=60, now=now)[0] == 2
        assert 0 < backend.ttl(f"throttle:test:ttl:{window}") <= 120
    else:
        assert counter_hit("test:ttl", duration=60, now=now)[0] == 1
        assert counter_hit("test:ttl", duration=60, now=now)[0] == 2
    assert cache.get(f"throttle:test:ttl:{window}") == 2
