"""What the benchmark measures: servers, scenarios and targets.

To add a scenario (a later issue's JWT or OAuth2 flow, say), append a
``Scenario`` to ``SCENARIOS``: a name, the server it runs against, and a
``prepare`` function that gets whatever credential it needs through a
``Client`` and returns the one ``Request`` wrk will repeat. Add a ``Server``
only when the scenario needs other settings, and a ``Target`` when the issue
sets one. ``run.py`` runs the scenarios in this order, round after round.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.client import Client, Request, json_post

PASSWORD = "bench-Correct-Horse-2718"
PROFILE = "/api/accounts/profile/"
LOGIN = "/api/accounts/login/"
TOKEN_LOGIN = "/api/auth-token/"


@dataclass(frozen=True)
class Server:
    """One gunicorn, with its own settings module, on its own port."""

    name: str
    settings: str
    description: str
    #: Python run by ``manage.py shell -c`` against the migrated database,
    #: before the server starts and again after the load. It must print one
    #: line ``BENCH_SETUP <json>``; the dict is handed to ``prepare`` as
    #: ``client.setup`` and checked by ``check_setup``.
    setup: str
    #: Run ``migrate`` with these settings too (they add apps and tables).
    migrate: bool = False
    #: Returns a problem found in the setup output, or None.
    check_setup: Callable[[dict[str, Any]], str | None] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str
    description: str
    prepare: Callable[[Client], Request]
    #: Shown in the report's table, not used in any computation.
    group: str = ""


@dataclass(frozen=True)
class Target:
    """``scenario``'s median req/s must be at least ``minimum`` × ``baseline``'s."""

    scenario: str
    baseline: str
    minimum: float
    description: str


# --- servers ------------------------------------------------------------------


def user_setup(username: str, *, drf_authtoken: bool = False) -> str:
    """Shell code: get or create ``username``, print its hash parameters (never the hash)."""
    token = (
        "from rest_framework.authtoken.models import Token\n"
        "out['drf_token'] = Token.objects.get_or_create(user=user)[0].key\n"
        if drf_authtoken
        else ""
    )
    return (
        "import json\n"
        "from django.contrib.auth.hashers import PBKDF2PasswordHasher\n"
        "from bouncer.users.models import User\n"
        f"user = User.objects.filter(username={username!r}).first()\n"
        f"if user is None:\n"
        f"    user = User.objects.create_user({username!r}, {username + '@example.com'!r}, {PASSWORD!r})\n"
        # algorithm$params...$salt$hash: everything but the last two fields.
        "out = {'username': user.username, 'hash_params': '$'.join(user.password.split('$')[:-2]),\n"
        "       'pbkdf2_default_iterations': PBKDF2PasswordHasher.iterations}\n"
        f"{token}"
        "print('BENCH_SETUP ' + json.dumps(out))\n"
    )


# OWASP Password Storage Cheat Sheet, Argon2id minimum: m = 19 MiB, t = 2, p = 1.
OWASP_ARGON2ID = {"m": 19 * 1024, "t": 2, "p": 1}


def check_argon2id_owasp(setup: dict[str, Any]) -> str | None:
    params = setup["hash_params"]
    match = re.fullmatch(r"argon2\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)", params)
    if not match:
        return f"expected an Argon2id hash, got {params!r}"
    got = dict(zip("mtp", map(int, match.groups()), strict=True))
    low = [f"{key}={got[key]} < {OWASP_ARGON2ID[key]}" for key in "mtp" if got[key] < OWASP_ARGON2ID[key]]
    return f"Argon2id below OWASP's minimum: {', '.join(low)}" if low else None


def check_pbkdf2_default(setup: dict[str, Any]) -> str | None:
    expected = f"pbkdf2_sha256${setup['pbkdf2_default_iterations']}"
    if setup["hash_params"] != expected:
        return f"expected Django's default PBKDF2 ({expected}), got {setup['hash_params']!r}"
    return None


SERVERS = [
    Server(
        name="bouncer",
        settings="config.settings.base",
        description="Bouncer as configured: Argon2id, cached_db sessions in Redis, hashed DRF tokens",
        setup=user_setup("bench"),
        check_setup=check_argon2id_owasp,
    ),
    Server(
        name="pbkdf2",
        settings="benchmarks.settings_pbkdf2",
        description="Bouncer with Django's default PBKDF2 first in PASSWORD_HASHERS",
        setup=user_setup("bench_pbkdf2"),
        check_setup=check_pbkdf2_default,
    ),
    Server(
        name="stock",
        settings="benchmarks.settings_stock",
        description="Stock DRF: database sessions and rest_framework.authtoken TokenAuthentication",
        setup=user_setup("bench_stock", drf_authtoken=True),
        migrate=True,
    ),
]


# --- scenarios ----------------------------------------------------------------


def floor(client: Client) -> Request:
    return Request("/healthz", expect_body='"ok"')


def session_cookie(client: Client) -> str:
    response = client.check(json_post(LOGIN, {"username": client.setup["username"], "password": PASSWORD}))
    session_id = response.cookie("sessionid")
    if not session_id:
        raise RuntimeError("login answered 200 without a sessionid cookie")
    return session_id


def profile_with_session(client: Client) -> Request:
    return Request(
        PROFILE, headers={"Cookie": f"sessionid={session_cookie(client)}"}, expect_body=client.setup["username"]
    )


def profile_with_bouncer_token(client: Client) -> Request:
    body = {"username": client.setup["username"], "password": PASSWORD, "device_name": "bench"}
    token = client.check(json_post(TOKEN_LOGIN, body)).json()["token"]
    return Request(PROFILE, headers={"Authorization": f"Token {token}"}, expect_body=client.setup["username"])


def profile_with_drf_authtoken(client: Client) -> Request:
    token = client.setup["drf_token"]
    return Request(PROFILE, headers={"Authorization": f"Token {token}"}, expect_body=client.setup["username"])


def session_login(client: Client) -> Request:
    return json_post(
        LOGIN, {"username": client.setup["username"], "password": PASSWORD}, expect_body="Login successful"
    )


SCENARIOS = [
    Scenario(
        name="floor",
        server="bouncer",
        description="GET /healthz: plain Django JSON view, same middleware",
        prepare=floor,
        group="floor",
    ),
    Scenario(
        name="profile_session",
        server="bouncer",
        description="GET profile, session cookie (cached_db, Redis)",
        prepare=profile_with_session,
        group="profile",
    ),
    Scenario(
        name="profile_token",
        server="bouncer",
        description="GET profile, Authorization: Token (hashed DeviceToken)",
        prepare=profile_with_bouncer_token,
        group="profile",
    ),
    Scenario(
        name="login_argon2",
        server="bouncer",
        description="POST session login, Argon2id m=19 MiB t=2 p=1",
        prepare=session_login,
        group="login",
    ),
    Scenario(
        name="login_pbkdf2",
        server="pbkdf2",
        description="POST session login, Django's default PBKDF2-SHA256",
        prepare=session_login,
        group="login",
    ),
    Scenario(
        name="stock_profile_session",
        server="stock",
        description="GET profile, session cookie (stock db sessions)",
        prepare=profile_with_session,
        group="stock DRF",
    ),
    Scenario(
        name="stock_profile_token",
        server="stock",
        description="GET profile, DRF authtoken TokenAuthentication",
        prepare=profile_with_drf_authtoken,
        group="stock DRF",
    ),
]

#: Every ratio in the report is to this scenario's median req/s.
FLOOR = "floor"

TARGETS = [
    Target("profile_session", "floor", 0.40, "session-authenticated profile at >= 40% of the floor"),
    Target("profile_token", "floor", 0.40, "token-authenticated profile at >= 40% of the floor"),
    Target("login_argon2", "login_pbkdf2", 5.0, "Argon2id login at >= 5x the rate of Django's default PBKDF2"),
]
