"""Answers about an address never tell whether an account uses it: same status, same body, about the same time.

Time is compared statistically: many requests, known and unknown
alternating (so drift hits both alike), and the medians compared with a
generous bound. One timed request proves nothing either way. What would
fail it: a send on one path only (SMTP time), a password hash on one path,
a second lookup for known addresses. What it cannot see: SMTP time, which
is off the request path by design (outbox.py), so the backend here is the
dummy one.
"""

from __future__ import annotations

import statistics
import time

import pytest
from rest_framework.test import APIClient

from bouncer.users.email.outbox import outbox_wait
from bouncer.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.users.email.conftest import rates

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_mail_path(settings):
    """Mail leaves the request as in production (the background thread), not the test profile's inline send.

    The backend is Django's dummy one: what is timed is the request's own
    work; delivery is proven over real SMTP in test_smtp.py (and a backend
    busy on the CPU in the background would only add noise to both paths).
    """
    settings.BOUNCER_EMAIL = {**settings.BOUNCER_EMAIL, "SEND_IN_BACKGROUND": True}
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    yield
    assert outbox_wait(10)

ROUNDS = 30
#: Generous: the paths do the same work, but CI machines are noisy.
BOUND = 1.6


def _timed(client: APIClient, path: str, body: dict) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    response = client.post(path, body, format="json")
    return time.perf_counter() - start, response.status_code, response.content


def _compare(path: str, known: dict, unknown: dict) -> tuple[float, float]:
    client = APIClient()
    for _ in range(3):  # warm-up: first-request costs (templates, statements) on both
        _timed(client, path, known), _timed(client, path, unknown)
    times = {"known": [], "unknown": []}
    answers = {"known": set(), "unknown": set()}
    for i in range(ROUNDS):
        order = (("known", known), ("unknown", unknown)) if i % 2 == 0 else (("unknown", unknown), ("known", known))
        for name, body in order:
            elapsed, status, content = _timed(client, path, body)
            times[name].append(elapsed)
            answers[name].add((status, content))
    assert answers["known"] == answers["unknown"] and len(answers["known"]) == 1
    return statistics.median(times["known"]), statistics.median(times["unknown"])


def test_password_reset_answers_known_and_unknown_addresses_alike(settings):
    settings.REST_FRAMEWORK = rates()
    make_user("alice")
    known, unknown = _compare("/api/auth/password/reset/", {"email": "alice@example.com"}, {"email": "nobody@example.com"})
    assert 1 / BOUND < known / unknown < BOUND, (known, unknown)


def test_verification_resend_answers_known_and_unknown_addresses_alike(settings):
    settings.REST_FRAMEWORK = rates()
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    assert APIClient().post("/api/accounts/register/", {"username": "dora", "email": "dora@example.com", "password": PASSWORD}, format="json").status_code == 201
    known, unknown = _compare("/api/auth/registration/resend-email/", {"email": "dora@example.com"}, {"email": "nobody@example.com"})
    assert 1 / BOUND < known / unknown < BOUND, (known, unknown)


def test_register_with_a_taken_address_in_mandatory_mode_answers_like_a_fresh_one(settings):
    settings.REST_FRAMEWORK = rates()
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    # The production hasher: a new account's inserts (user, address, audit
    # rows: ~3 ms on SQLite) are small next to the hash both paths run.
    settings.PASSWORD_HASHERS = [h for h in settings.PASSWORD_HASHERS if "MD5" not in h]
    make_user("alice")
    client = APIClient()
    times = {"fresh": [], "taken": []}
    for i in range(ROUNDS):
        for name in (("fresh", "taken") if i % 2 == 0 else ("taken", "fresh")):
            email = f"new{i}@example.com" if name == "fresh" else "alice@example.com"
            elapsed, status, _ = _timed(client, "/api/accounts/register/", {"username": f"{name}{i}", "email": email, "password": PASSWORD})
            assert status == 201
            times[name].append(elapsed)
    assert User.objects.filter(username__startswith="taken").count() == 0
    fresh, taken = statistics.median(times["fresh"]), statistics.median(times["taken"])
    # Wider: the hash is most of each request, and a path without it would
    # be several times faster, far outside even this bound.
    assert 1 / 2 < fresh / taken < 2, (fresh, taken)
