
import pytest
from django.conf import settings
from django.test import override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

RELAXED_THROTTLES = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}


def attempt(api, username, password, url="/api/accounts/login/"):
    return api.post(url, {"username": username, "password": password}, format="json")


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
@pytest.mark.parametrize("url", ["/api/accounts/login/", "/api/auth-token/"])
def test_repeated_failures_lock_the_account_even_for_the_right_password(api, user, url):
    codes = [attempt(api, "alice", "wrong", url).status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    locked = attempt(api, "Alice", PASSWORD, url)
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert locked["Retry-After"] == "600"
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, username="alice").count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_unknown_username_locks_the_same_way(api):
    codes = [attempt(api, "ghost", "wrong").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_success_resets_the_failure_count(api, user):
    attempt(api, "alice", "wrong")
    attempt(api, "alice", "wrong")
    assert attempt(api, "alice", PASSWORD).status_code == 200
    attempt(api, "alice", "wrong")
    attempt(api, "alice", "wrong")
    assert attempt(api, "alice", PASSWORD).status_code == 200


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=2, BOUNCER_LOCKOUT_SECONDS=600)
def test_lock_of_one_account_leaves_others_alone(api, user, other_user):
    attempt(api, "alice", "wrong")
    attempt(api, "alice", "wrong")
    assert attempt(api, "alice", PASSWORD).status_code == 429
    assert attempt(api, "bob", PASSWORD).status_code == 200


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=2, BOUNCER_LOCKOUT_SECONDS=600)
def test_locked_retry_after_is_the_time_left_not_the_full_period(api, user):
    import datetime

    import time_machine

    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False) as clock:
        attempt(api, "alice", "wrong")
        attempt(api, "alice", "wrong")
        assert attempt(api, "alice", PASSWORD)["Retry-After"] == "600"
        clock.shift(datetime.timedelta(seconds=100))
        assert attempt(api, "alice", PASSWORD)["Retry-After"] == "500"


@override_settings(BOUNCER_LOCKOUT_ATTEMPTS=3)
def test_attempt_that_read_not_locked_just_before_the_lock_is_still_refused(monkeypatch):
    """The interleaving of N parallel guesses: one attempt reads "not locked",
    the third failure then locks the name, and only then does the first attempt
    reserve its place. It must be past the limit, not first of a new count."""
    from bouncer.users import lockout

    for _ in range(3):
        wait, place = lockout.lockout_attempt_begin(username="alice")
        assert wait is None
        lockout.lockout_record_failure(username="alice", place=place)
    assert lockout.lockout_remaining(username="alice") is not None
    real, reads = lockout.lockout_remaining, []

    def first_read_stale(*, username):
        reads.append(username)
        return None if len(reads) == 1 else real(username=username)  # the first read came before the lock

    monkeypatch.setattr(lockout, "lockout_remaining", first_read_stale)
    wait, _ = lockout.lockout_attempt_begin(username="alice")
    assert wait is not None


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
@pytest.mark.parametrize("url", ["/api/accounts/login/", "/api/auth-token/", "/api/token/"])
def test_locked_answer_is_described_in_the_schema(api, user, url):
    """The fuzzer found the lockout's 429 undocumented on every sign-in endpoint."""
    from tests.schema_support import assert_answer_described

    for _ in range(3):
        attempt(api, "alice", "wrong", url)
    locked = attempt(api, "alice", PASSWORD, url)
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert_answer_described(locked, "POST", url)


@override_settings(REST_FRAMEWORK=RELAXED_THROTTLES, BOUNCER_LOCKOUT_ATTEMPTS=3, BOUNCER_LOCKOUT_SECONDS=600)
def test_password_change_locked_answer_is_described_in_the_schema(user):
    from tests.conftest import token_client
    from tests.schema_support import assert_answer_described

    client = token_client(user)
    url = "/api/accounts/password/change/"
    for _ in range(3):
        wrong = client.post(url, {"old_password": "wrong-old-1", "new_password": "n3w-Passw0rd-long"}, format="json")
        assert wrong.status_code == 400
        assert_answer_described(wrong, "POST", url)
    locked = client.post(url, {"old_password": PASSWORD, "new_password": "n3w-Passw0rd-long"}, format="json")
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert_answer_described(locked, "POST", url)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
