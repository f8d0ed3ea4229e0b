"""What the benchmark measures: servers, scenarios and targets.

To add a scenario (a later issue's JWT or OAuth2 flow, say), append a
``Scenario`` to ``SCENARIOS``: a name, the server it runs against, and a
``prepare`` function that gets whatever credential it needs through a
``Client`` and returns the one ``Request`` wrk will repeat. Add a ``Server``
only when the scenario needs other settings, and a ``Target`` when the issue
sets one. ``run.py`` runs the scenarios in this order, round after round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from benchmarks.client import BodyPool, Client, Request, TokenChain, json_post

PASSWORD = "bench-Correct-Horse-2718"
PROFILE = "/api/accounts/profile/"
SESSIONS = "/api/accounts/sessions/"
LOGIN = "/api/accounts/login/"
TOKEN_LOGIN = "/api/auth-token/"
JWT_OBTAIN = "/api/token/"
JWT_REFRESH = "/api/token/refresh/"
MFA_AUTHENTICATE = "/api/auth/mfa/authenticate/"
OAUTH_TOKEN = "/o/token/"
OAUTH_INTROSPECT = "/o/introspect/"
#: Benchmark-only OAuth2 client secrets; the clients are ``<user>-password`` and
#: ``<user>-client-credentials`` (one pair per server: they share a database, and
#: each server hashes its secrets with its own first hasher).
OAUTH_SECRETS = {
    "password": "bench-password-secret-0123456789abcdef0123456789",
    "client-credentials": "bench-cc-secret-0123456789abcdef0123456789abcdef",
}


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
    #: A database (and Redis database) of its own: this suffix on the run's
    #: database name, created from the migrated one. Empty: the shared one.
    database: str = ""
    #: Python run once by ``manage.py shell -c`` after ``setup``, before the
    #: server starts, to fill its database; prints ``BENCH_SEED <json>``.
    seed: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str
    description: str
    prepare: Callable[[Client], Request]
    #: Shown in the report's table, not used in any computation.
    group: str = ""
    #: Runs only when named in ``--scenarios`` or with ``--all`` (it makes the run much longer).
    optional: bool = False


@dataclass(frozen=True)
class Target:
    """``scenario``'s median req/s must be at least ``minimum`` × ``baseline``'s."""

    scenario: str
    baseline: str
    minimum: float
    description: str


# --- servers ------------------------------------------------------------------


def user_setup(username: str, *, drf_authtoken: bool = False, oauth_clients: bool = False) -> str:
    """Shell code: get or create ``username``, print its hash parameters (never the hash).

    With ``oauth_clients``, also register the two benchmark OAuth2 clients (their
    secrets hashed by the server's own settings) and print their hash parameters.
    """
    token = (
        "from rest_framework.authtoken.models import Token\n"
        "out['drf_token'] = Token.objects.get_or_create(user=user)[0].key\n"
        if drf_authtoken
        else ""
    )
    if oauth_clients:
        token += (
            "from oauth2_provider.models import get_application_model\n"
            "Application = get_application_model()\n"
            f"for grant, secret in {OAUTH_SECRETS!r}.items():\n"
            f"    client_id = {username!r} + '-' + grant\n"
            "    app = Application.objects.filter(client_id=client_id).first()\n"
            "    if app is None:\n"
            "        app = Application.objects.create(client_id=client_id, client_secret=secret, hash_client_secret=True,\n"
            "            name=client_id, client_type='confidential', authorization_grant_type=grant)\n"
            "    out['client_hash_' + grant] = '$'.join(app.client_secret.split('$')[:-2])\n"
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


# One million refresh-token rows, as a busy deployment accumulates them within
# the 14-day refresh lifetime: 100,000 sign-ins (families) of 1,000 users, 10
# rotations each (9 used, the newest not), 5% of the families revoked. Every
# expiry is in the future, so the purge on sign-in removes none of them.
SEED_USERS = 1_000
SEED_FAMILIES = 100_000
SEED_ROWS_PER_FAMILY = 10
SEED_SQL = """
WITH families AS (
    INSERT INTO tokens_jwtfamily (id, user_id, created_at, expires_at, revoked_at, revoke_reason)
    SELECT gen_random_uuid(), (%(users)s::bigint[])[1 + g %% cardinality(%(users)s::bigint[])],
           now() - interval '12 days' + g * interval '10 seconds',
           now() + interval '2 days' + g * interval '10 seconds' + (%(rows)s - 1) * interval '1 hour',
           CASE WHEN g %% 20 = 0 THEN now() - interval '1 hour' END,
           CASE WHEN g %% 20 = 0 THEN 'logout' ELSE '' END
    FROM generate_series(1, %(families)s) AS g
    RETURNING id, created_at
)
INSERT INTO tokens_jwtrefreshtoken (jti, family_id, issued_at, expires_at, used_at)
SELECT gen_random_uuid(), families.id,
       families.created_at + k * interval '1 hour',
       families.created_at + k * interval '1 hour' + interval '14 days',
       CASE WHEN k < %(rows)s - 1 THEN families.created_at + (k + 1) * interval '1 hour' END
FROM families CROSS JOIN generate_series(0, %(rows)s - 1) AS k
"""
JWT_SEED = (
    "import json, time\n"
    "from django.db import connection\n"
    "from bouncer.users.models import User\n"
    "started = time.monotonic()\n"
    f"users = User.objects.bulk_create([User(username=f'seed{{i:04d}}', email=f'seed{{i:04d}}@example.com',"
    f" password='!') for i in range({SEED_USERS})], batch_size=1000)\n"
    "with connection.cursor() as cursor:\n"
    f"    cursor.execute({SEED_SQL!r}, {{'users': [u.pk for u in users], 'families': {SEED_FAMILIES},"
    f" 'rows': {SEED_ROWS_PER_FAMILY}}})\n"
    # As autovacuum would leave them (so it does not start during the rounds),
    # with the seed's dirty pages written out.
    "    cursor.execute('VACUUM ANALYZE tokens_jwtfamily')\n"
    "    cursor.execute('VACUUM ANALYZE tokens_jwtrefreshtoken')\n"
    "    cursor.execute('CHECKPOINT')\n"
    "    cursor.execute('SELECT count(*) FROM tokens_jwtfamily')\n"
    "    families = cursor.fetchone()[0]\n"
    "    cursor.execute('SELECT count(*), count(*) FILTER (WHERE expires_at <= now()),"
    " pg_total_relation_size(%s) FROM tokens_jwtrefreshtoken', ['tokens_jwtrefreshtoken'])\n"
    "    rows, expired, size = cursor.fetchone()\n"
    "print('BENCH_SEED ' + json.dumps({'users': len(users), 'families': families, 'refresh_rows': rows,"
    " 'expired_rows': expired, 'refresh_table_mib': round(size / 2**20, 1),"
    " 'seconds': round(time.monotonic() - started, 1)}))\n"
)

def _client_hashes(setup: dict[str, Any], prefix: str) -> str | None:
    for key in ("client_hash_password", "client_hash_client-credentials"):
        if not setup.get(key, "").startswith(prefix):
            return f"{key}: expected {prefix}..., got {setup.get(key)!r}"
    return None


def check_bouncer_with_clients(setup: dict[str, Any]) -> str | None:
    """The user's password and both clients' secrets are Argon2id at or above OWASP's minimum."""
    return check_argon2id_owasp(setup) or _client_hashes(setup, "argon2$argon2id$")


def check_stock_oauth(setup: dict[str, Any]) -> str | None:
    """The user's password and both clients' secrets are PBKDF2 at Django's default iterations."""
    return check_pbkdf2_default(setup) or _client_hashes(setup, f"pbkdf2_sha256${setup['pbkdf2_default_iterations']}")


#: The sessions-list user (``bench_sessions``) and its 1,000 live credentials, 250 of each
#: kind (sessions, DRF tokens, JWT sign-ins, OAuth2 authorizations of 250 clients),
#: written in bulk (no password hash per row), once: the setup runs again after the load.
SESSIONS_USER = "bench_sessions"
SESSIONS_PER_KIND = 250
SESSIONS_SEED = (
    "import hashlib, secrets\n"
    "from datetime import timedelta\n"
    "from django.utils import timezone\n"
    "from oauth2_provider.models import get_access_token_model, get_application_model\n"
    "from bouncer.tokens.jwt.models import JwtFamily\n"
    "from bouncer.tokens.opaque.models import DeviceToken, token_digest\n"
    "from bouncer.users.models import User, UserSession\n"
    "from bouncer.users.sessions import SessionStore\n"
    f"seeded = User.objects.filter(username={SESSIONS_USER!r}).first()\n"
    "if seeded is None:\n"
    f"    seeded = User.objects.create_user({SESSIONS_USER!r}, {SESSIONS_USER + '@example.com'!r}, {PASSWORD!r})\n"
    "if not DeviceToken.objects.filter(user=seeded, device_name__startswith='seed-').exists():\n"
    "    now = timezone.now()\n"
    f"    n = {SESSIONS_PER_KIND}\n"
    "    agent = 'Mozilla/5.0 (X11; Linux x86_64) bench'\n"
    "    meta = {'ip': '192.0.2.1', 'ua': agent, 'at': int(now.timestamp())}\n"
    "    data = SessionStore().encode({'_auth_user_id': str(seeded.pk), '_bouncer_meta': meta, '_bouncer_seen': meta['at']})\n"
    "    UserSession.objects.bulk_create([UserSession(session_key=secrets.token_hex(16), session_data=data,\n"
    "        expire_date=now + timedelta(days=14), user=seeded, created_at=now, ip_address='192.0.2.1',\n"
    "        user_agent=agent, last_used_at=now) for i in range(n)])\n"
    "    DeviceToken.objects.bulk_create([DeviceToken(user=seeded, digest=token_digest(secrets.token_urlsafe(32)),\n"
    "        prefix='seed', device_name=f'seed-{i}', created_at=now, expires_at=now + timedelta(days=30),\n"
    "        ip_address='192.0.2.2', last_used_at=now) for i in range(n)])\n"
    "    JwtFamily.objects.bulk_create([JwtFamily(user=seeded, created_at=now, expires_at=now + timedelta(days=30),\n"
    "        ip_address='192.0.2.3', user_agent=agent, last_used_at=now) for i in range(n)])\n"
    "    Application = get_application_model()\n"
    "    apps = Application.objects.bulk_create([Application(client_id=f'bench-sessions-{i}', client_secret='',\n"
    "        hash_client_secret=False, name=f'seed app {i}', client_type='confidential',\n"
    "        authorization_grant_type='password') for i in range(n)])\n"
    "    tokens = [secrets.token_urlsafe(32) for i in range(n)]\n"
    "    get_access_token_model().objects.bulk_create([get_access_token_model()(user=seeded, application=app,\n"
    "        token=token, token_checksum=hashlib.sha256(token.encode()).hexdigest(), scope='read',\n"
    "        expires=now + timedelta(days=1)) for app, token in zip(apps, tokens)])\n"
)


# --- multi-factor sign-in -------------------------------------------------------
#
# The second step spends what nothing gives back: an ``mfa_token`` (single use)
# and a TOTP code (a user's code is accepted once per 30 s step, and never one
# older than the last). So ``mfa_authenticate`` sends each body once, from a
# pool made anew for every run (``BodyPool``): one body per user of a pool of
# users with TOTP factors, all the users' codes of one step, each run in a later
# step than the one before (the codes of a step stay valid for the step on
# either side: the tolerance in config/settings/mfa.py). The mfa_tokens are
# made as the first step makes them (``challenge_create``, the row
# ``mfa_signin_challenge`` stores for a JWT sign-in), in bulk by ``manage.py
# shell``: the first step itself, an Argon2id sign-in, is what ``jwt_obtain``
# measures. The pool's users have no usable password (none is ever checked).

TOTP_PERIOD = 30
MFA_USER = "bench_mfa"
MFA_POOL_PREFIX = "bench_mfa_pool_"
MFA_POOL_SIZE = 3000


def totp_secret(username: str) -> str:
    """A benchmark user's TOTP secret (base32, 20 bytes), derived from its name on both sides."""
    return base64.b32encode(hashlib.sha256(f"bench-totp:{username}".encode()).digest()[:20]).decode()


def totp_code(secret: str, step: int) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits), with the standard library only."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def totp_user_setup(prefix_or_name: str, count: int | None = None, *, password: str | None = PASSWORD) -> str:
    """Shell code: users (one named, or ``count`` numbered) with a confirmed TOTP factor of the derived secret."""
    names = f"[{prefix_or_name!r} + f'{{i:05d}}' for i in range({count})]" if count is not None else f"[{prefix_or_name!r}]"
    return (
        "import base64, hashlib\n"
        "from django.db import transaction\n"
        "from allauth.mfa.models import Authenticator\n"
        "from bouncer.multifactor.totp import totp_activate\n"
        "from bouncer.users.models import User\n"
        f"names = {names}\n"
        "have = set(User.objects.filter(username__in=names, authenticator__type='totp').values_list('username', flat=True))\n"
        "with transaction.atomic():\n"
        "    for name in names:\n"
        "        if name in have:\n"
        "            continue\n"
        "        user = User.objects.filter(username=name).first() or User.objects.create_user(\n"
        f"            name, name + '@example.com', {password!r})\n"
        "        secret = base64.b32encode(hashlib.sha256(f'bench-totp:{name}'.encode()).digest()[:20]).decode()\n"
        "        totp_activate(user=user, secret=secret, step=0)\n"
    )


def mfa_pool_fill_code(count: int) -> str:
    """Shell code: ``count`` pool users, and a new second-step challenge (an mfa_token) for each."""
    return totp_user_setup(MFA_POOL_PREFIX, count, password=None) + (
        "import json\n"
        "from bouncer.multifactor.models import ChallengePurpose\n"
        "from bouncer.multifactor.services import challenge_create\n"
        "users = User.objects.filter(username__in=names).order_by('username')\n"
        "with transaction.atomic():\n"
        "    pool = [[user.username, challenge_create(user=user, purpose=ChallengePurpose.SIGNIN, method='jwt', issue='jwt',\n"
        "             data={'options': {'cookie': False}, 'amr': ['pwd']})[0]] for user in users]\n"
        "print('BENCH_POOL ' + json.dumps(pool))\n"
    )


SERVERS = [
    Server(
        name="bouncer",
        settings="config.settings.base",
        description="Bouncer as configured: Argon2id, cached_db sessions in Redis, hashed DRF tokens",
        setup=SESSIONS_SEED + totp_user_setup(MFA_USER) + user_setup("bench", oauth_clients=True),
        check_setup=check_bouncer_with_clients,
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
    Server(
        name="stock_oauth",
        settings="benchmarks.settings_stock_oauth",
        description="Stock django-oauth-toolkit: its validator, PBKDF2 passwords and client secrets",
        setup=user_setup("bench_stock_oauth", oauth_clients=True),
        check_setup=check_stock_oauth,
    ),
    Server(
        name="jwt1m",
        settings="config.settings.base",
        description="Bouncer as configured, its own database seeded with 1M refresh-token rows",
        setup=user_setup("bench_jwt1m"),
        check_setup=check_argon2id_owasp,
        database="_1m",
        seed=JWT_SEED,
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


def jwt_pair(client: Client) -> dict[str, str]:
    """A new JWT sign-in (one Argon2id hash): {"access", "refresh"}."""
    body = {"username": client.setup["username"], "password": PASSWORD}
    return client.check(json_post(JWT_OBTAIN, body, expect_body='"refresh"')).json()


def profile_with_jwt(client: Client) -> Request:
    access = jwt_pair(client)["access"]
    return Request(PROFILE, headers={"Authorization": f"Bearer {access}"}, expect_body=client.setup["username"])


def jwt_obtain(client: Client) -> Request:
    return json_post(JWT_OBTAIN, {"username": client.setup["username"], "password": PASSWORD}, expect_body='"refresh"')


def jwt_refresh(client: Client) -> Request:
    """Refresh with rotation, chained: each request spends the token the previous one got."""
    chain = TokenChain(field="refresh", refill=lambda: jwt_pair(client)["refresh"])
    return Request(
        JWT_REFRESH, method="POST", headers={"Content-Type": "application/json"}, expect_body='"refresh"', chain=chain
    )


def _form_post(path: str, data: dict[str, str], *, client: tuple[str, str], expect_body: str) -> Request:
    credentials = base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode()
    return Request(
        path,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {credentials}"},
        body=urlencode(data),
        expect_body=expect_body,
    )


def _oauth_client(client: Client, grant: str) -> tuple[str, str]:
    return f"{client.setup['username']}-{grant}", OAUTH_SECRETS[grant]


def oauth_password_grant(client: Client) -> Request:
    """Tutorial 000's password grant: client secret (HTTP Basic) + the user's password."""
    data = {"grant_type": "password", "username": client.setup["username"], "password": PASSWORD, "scope": "read"}
    return _form_post(OAUTH_TOKEN, data, client=_oauth_client(client, "password"), expect_body='"access_token"')


def oauth_client_credentials(client: Client) -> Request:
    return _form_post(
        OAUTH_TOKEN,
        {"grant_type": "client_credentials", "scope": "read"},
        client=_oauth_client(client, "client-credentials"),
        expect_body='"access_token"',
    )


def profile_with_oauth2(client: Client) -> Request:
    token = client.check(oauth_password_grant(client)).json()["access_token"]
    return Request(PROFILE, headers={"Authorization": f"Bearer {token}"}, expect_body=client.setup["username"])


def oauth_introspect(client: Client) -> Request:
    """RFC 7662 introspection of a live access token (a resource server asking), the
    caller a confidential client authenticated with HTTP Basic (its secret remembered)."""
    token = client.check(oauth_password_grant(client)).json()["access_token"]
    return _form_post(
        OAUTH_INTROSPECT,
        {"token": token},
        client=_oauth_client(client, "client-credentials"),
        expect_body='"active": true',
    )

def _marker(output: str, marker: str):
    for line in output.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1 :])
    raise RuntimeError(f"no {marker} line in the output:\n{output[-2000:]}")


def mfa_second_step(client: Client, username: str, step: int | None = None) -> dict[str, str]:
    """A JWT sign-in through the second step: the first step's 401 mfa_token, then a TOTP code."""
    first = client.send(json_post(JWT_OBTAIN, {"username": username, "password": PASSWORD}))
    if first.status != 401 or first.json().get("code") != "mfa_required":
        raise RuntimeError(f"{JWT_OBTAIN} for {username} answered {first.status}: {first.body[:300]!r}")
    code = totp_code(totp_secret(username), step if step is not None else int(time.time()) // TOTP_PERIOD)
    body = {"mfa_token": first.json()["mfa_token"], "code": code}
    return client.check(json_post(MFA_AUTHENTICATE, body, expect_body='"refresh"')).json()


def profile_with_mfa_jwt(client: Client) -> Request:
    """The profile with the access JWT of a sign-in that proved a second factor (amr and acr claims)."""
    access = mfa_second_step(client, MFA_USER)["access"]
    return Request(PROFILE, headers={"Authorization": f"Bearer {access}"}, expect_body=MFA_USER)


def mfa_authenticate(client: Client) -> Request:
    """``POST /api/auth/mfa/authenticate/`` with an mfa_token and a TOTP code, completing into a JWT pair."""
    if client.manage is None:
        raise RuntimeError("mfa_authenticate needs manage.py access to the server (benchmarks/run.py gives it)")
    last_step = [-1]

    def fill(size: int) -> list[list[str]]:
        return _marker(client.manage("shell", "-c", mfa_pool_fill_code(size)), "BENCH_POOL")

    def render(items: list[list[str]]) -> list[str]:
        # Each user's code must be of a step after the last one it used: the step after the
        # previous run's, at the earliest. A code is accepted during its step and the ones on
        # either side, so the code of the next step is valid now; any later one means a wait.
        now = int(time.time()) // TOTP_PERIOD
        step = max(now, last_step[0] + 1)
        while int(time.time()) // TOTP_PERIOD < step - 1:
            time.sleep(0.2)
        last_step[0] = step
        return [json.dumps({"mfa_token": token, "code": totp_code(totp_secret(name), step)}, separators=(",", ":")) for name, token in items]

    return Request(
        MFA_AUTHENTICATE, method="POST", headers={"Content-Type": "application/json"}, expect_body='"refresh"',
        pool=BodyPool(fill=fill, render=render, size=MFA_POOL_SIZE),
    )


def sessions_list(client: Client) -> Request:
    """The first page of a user's 1,000 live credentials, asked with a DRF token of theirs."""
    body = {"username": SESSIONS_USER, "password": PASSWORD, "device_name": "bench"}
    token = client.check(json_post(TOKEN_LOGIN, body)).json()["token"]
    return Request(SESSIONS, headers={"Authorization": f"Token {token}"}, expect_body='"count":1001')


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
    Scenario(
        name="profile_jwt",
        server="bouncer",
        description="GET profile, Authorization: Bearer (ES256 access JWT)",
        prepare=profile_with_jwt,
        group="jwt",
    ),
    Scenario(
        name="profile_jwt_mfa",
        server="bouncer",
        description="GET profile, Authorization: Bearer (access JWT of an MFA sign-in: amr, acr)",
        prepare=profile_with_mfa_jwt,
        group="jwt",
    ),
    Scenario(
        name="jwt_obtain",
        server="bouncer",
        description="POST /api/token/: Argon2id, a new sign-in, access + refresh",
        prepare=jwt_obtain,
        group="jwt",
    ),
    Scenario(
        name="jwt_refresh",
        server="bouncer",
        description="POST /api/token/refresh/: rotation, chained",
        prepare=jwt_refresh,
        group="jwt",
    ),
    Scenario(
        name="mfa_authenticate",
        server="bouncer",
        description="POST /api/auth/mfa/authenticate/: mfa_token + TOTP code, completing into a JWT pair",
        prepare=mfa_authenticate,
        group="mfa",
    ),
    Scenario(
        name="profile_oauth2",
        server="bouncer",
        description="GET profile, Authorization: Bearer (OAuth2 access token, scope read)",
        prepare=profile_with_oauth2,
        group="oauth2",
    ),
    Scenario(
        name="oauth_client_credentials",
        server="bouncer",
        description="POST /o/token/ client_credentials (client secret: Argon2id, remembered)",
        prepare=oauth_client_credentials,
        group="oauth2",
    ),
    Scenario(
        name="oauth_password",
        server="bouncer",
        description="POST /o/token/ password grant (client secret + Argon2id password)",
        prepare=oauth_password_grant,
        group="oauth2",
    ),
    Scenario(
        name="oauth_introspect",
        server="bouncer",
        description="POST /o/introspect/ of a live access token (client secret: Argon2id, remembered)",
        prepare=oauth_introspect,
        group="oauth2",
    ),
    Scenario(
        name="stock_oauth_password",
        server="stock_oauth",
        description="the same password grant, stock toolkit: PBKDF2 secret + PBKDF2 password",
        prepare=oauth_password_grant,
        group="oauth2",
    ),
    Scenario(
        name="sessions_list",
        server="bouncer",
        description="GET /api/accounts/sessions/: a user with 1,000 live credentials of the 4 kinds",
        prepare=sessions_list,
        group="sessions",
    ),
    Scenario(
        name="jwt_refresh_1m",
        server="jwt1m",
        description="the same refresh, 1M refresh rows in the database",
        prepare=jwt_refresh,
        group="jwt 1M rows",
        optional=True,
    ),
    Scenario(
        name="jwt_obtain_1m",
        server="jwt1m",
        description="the same sign-in, 1M refresh rows in the database",
        prepare=jwt_obtain,
        group="jwt 1M rows",
        optional=True,
    ),
]

#: Every ratio in the report is to this scenario's median req/s.
FLOOR = "floor"

TARGETS = [
    Target("profile_session", "floor", 0.40, "session-authenticated profile at >= 40% of the floor"),
    Target("profile_token", "floor", 0.40, "token-authenticated profile at >= 40% of the floor"),
    Target("login_argon2", "login_pbkdf2", 5.0, "Argon2id login at >= 5x the rate of Django's default PBKDF2"),
    Target("profile_jwt", "floor", 0.50, "JWT-authenticated profile at >= 50% of the floor"),
    Target("jwt_refresh", "floor", 0.12, "JWT refresh (rotation, chained) at >= 12% of the floor"),
    Target("profile_oauth2", "floor", 0.40, "OAuth2-bearer profile at >= 40% of the floor"),
    Target("oauth_password", "stock_oauth_password", 5.0, "OAuth2 password grant at >= 5x stock django-oauth-toolkit"),
    # Not from an issue: refresh must not slow down as refresh rows accumulate.
    Target("jwt_refresh_1m", "jwt_refresh", 0.90, "JWT refresh with 1M refresh rows at >= 90% of the rate without"),
    Target("jwt_obtain_1m", "jwt_obtain", 0.90, "JWT sign-in with 1M refresh rows at >= 90% of the rate without"),
]
