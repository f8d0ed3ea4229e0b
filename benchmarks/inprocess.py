#!/usr/bin/env python
"""In-process cost of one authenticated ``GET /api/accounts/profile/``, per credential kind.

Steadier than the load runs for telling a few percent apart (docs/performance.md,
issue 8): Django's test client calls the WSGI handler in this process, against
PostgreSQL and Redis as in production, with the production settings
(``config.settings.base``, ``DJANGO_DEBUG=0``). Each kind's credential is made
once, through the real endpoints; then rounds interleave the kinds
(``--requests`` each, after a warm-up), and the median over rounds of the mean
µs per request is printed: of this process's CPU time (``time.process_time``),
the figure to compare, and of wall-clock time; then the Python function calls
per request, counted by cProfile over ``--calls`` more requests (a count, so
the same however busy the machine is). On a machine shared with other
work the wall-clock time swings with their load (each request waits for a
CPU); the process's own CPU time moves far less. Neither counts the CPU that
Redis spends answering.

Measure another tree of the repository (a commit from before a change) with
``--tree``: its code is imported instead of this one's, so the same script
times both.

    .venv/bin/python benchmarks/inprocess.py
    git archive c21b0c4 | tar -x -C /tmp/before && .venv/bin/python benchmarks/inprocess.py --tree /tmp/before

It creates the database ``bouncer_bench_inprocess`` (dropped at the end) and
flushes the Redis database it is given. Only 127.0.0.1 is ever contacted.
A kind the tree cannot sign in with (``jwt_mfa`` before the second step
existed) is left out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Correct-Horse-2718"
PROFILE = "/api/accounts/profile/"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--tree", type=Path, default=HERE, help="repository tree whose code is measured")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1500, help="requests per kind per round")
    parser.add_argument("--kinds", default="session,token,jwt,jwt_mfa,oauth2")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bouncer_bench_inprocess")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here too")
    parser.add_argument(
        "--calls", type=int, default=200, help="requests per kind counted under cProfile: Python calls per request (0: skip)"
    )
    args = parser.parse_args()
    for url in (args.postgres_url, args.redis_url):
        if urlsplit(url).hostname != "127.0.0.1":
            parser.error("only 127.0.0.1 is allowed")
    if not args.database.startswith("bouncer_bench"):
        parser.error("--database must start with 'bouncer_bench': it is dropped at the end")
    if (urlsplit(args.redis_url).path.strip("/") or "0") == "0":
        parser.error("--redis-url must name a Redis database other than 0: it is flushed")
    return args


def totp_code(secret: str, step: int) -> str:
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def credentials(kinds: list[str]) -> dict[str, dict]:
    """Each kind's request headers (or cookies), made through the tree's own endpoints."""
    from django.test import Client

    from bouncer.users.models import User

    def client() -> Client:
        return Client(HTTP_HOST="127.0.0.1")

    made: dict[str, dict] = {}
    User.objects.create_user("bench", "bench@example.com", PASSWORD)
    signin = {"username": "bench", "password": PASSWORD}
    for kind in kinds:
        try:
            if kind == "session":
                browser = client()
                assert browser.post("/api/accounts/login/", signin, content_type="application/json").status_code == 200
                made[kind] = {"cookies": browser.cookies}
            elif kind == "token":
                answer = client().post("/api/auth-token/", {**signin, "device_name": "bench"}, content_type="application/json")
                made[kind] = {"HTTP_AUTHORIZATION": f"Token {answer.json()['token']}"}
            elif kind == "jwt":
                answer = client().post("/api/token/", signin, content_type="application/json")
                made[kind] = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access']}"}
            elif kind == "jwt_mfa":
                from bouncer.multifactor.totp import totp_activate, totp_secret_new

                user = User.objects.create_user("bench_mfa", "bench_mfa@example.com", PASSWORD)
                secret = totp_secret_new()
                totp_activate(user=user, secret=secret, step=0)
                first = client().post("/api/token/", {"username": "bench_mfa", "password": PASSWORD}, content_type="application/json")
                code = totp_code(secret, int(time.time()) // 30)
                answer = client().post(
                    "/api/auth/mfa/authenticate/", {"mfa_token": first.json()["mfa_token"], "code": code}, content_type="application/json"
                )
                made[kind] = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access']}", "username": "bench_mfa"}
            elif kind == "oauth2":
                from oauth2_provider.models import get_application_model

                secret = "bench-password-secret-0123456789abcdef0123456789"
                get_application_model().objects.create(
                    client_id="bench-password", client_secret=secret, hash_client_secret=True, name="bench",
                    client_type="confidential", authorization_grant_type="password",
                )
                basic = base64.b64encode(f"bench-password:{secret}".encode()).decode()
                answer = client().post(
                    "/o/token/", {"grant_type": "password", **signin, "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
                )
                made[kind] = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access_token']}"}
        except Exception as exc:  # a kind this tree cannot make: left out, and said so
            print(f"{kind}: not measured ({type(exc).__name__}: {exc})", file=sys.stderr)
    return made


def measure(made: dict[str, dict], *, rounds: int, requests: int) -> dict[str, dict[str, list[float]]]:
    from django.test import Client

    clients = {}
    for kind, spec in made.items():
        client = Client(HTTP_HOST="127.0.0.1")
        if "cookies" in spec:
            client.cookies = spec["cookies"]
        headers = {key: value for key, value in spec.items() if key.startswith("HTTP_")}
        username = spec.get("username", "bench")
        answer = client.get(PROFILE, **headers)
        if answer.status_code != 200 or answer.json()["username"] != username:
            raise SystemExit(f"{kind}: profile answered {answer.status_code}: {answer.content[:200]!r}")
        clients[kind] = (client, headers)
    timings: dict[str, dict[str, list[float]]] = {kind: {"cpu": [], "wall": []} for kind in clients}
    for _ in range(rounds):
        for kind, (client, headers) in clients.items():
            for _ in range(requests // 10):  # warm: this kind's entries and code paths
                client.get(PROFILE, **headers)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                client.get(PROFILE, **headers)
            timings[kind]["cpu"].append((time.process_time() - cpu) / requests * 1e6)
            timings[kind]["wall"].append((time.perf_counter() - wall) / requests * 1e6)
    return timings


def calls_per_request(made: dict[str, dict], *, requests: int) -> dict[str, float]:
    """Python function calls per warm request, counted by cProfile: the same on a busy machine as on an idle one."""
    import cProfile
    import pstats

    from django.test import Client

    counted = {}
    for kind, spec in made.items():
        client = Client(HTTP_HOST="127.0.0.1")
        if "cookies" in spec:
            client.cookies = spec["cookies"]
        headers = {key: value for key, value in spec.items() if key.startswith("HTTP_")}
        for _ in range(20):
            client.get(PROFILE, **headers)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            client.get(PROFILE, **headers)
        profiler.disable()
        counted[kind] = pstats.Stats(profiler).total_calls / requests
    return counted


def main() -> int:
    args = parse_args()
    tree = args.tree.resolve()
    import psycopg
    import redis
    from psycopg import sql

    admin = psycopg.connect(args.postgres_url, autocommit=True)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.database)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.database)))
    redis.Redis.from_url(args.redis_url).flushdb()
    local = tempfile.mkdtemp(prefix="bouncer-inprocess-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base", DJANGO_DEBUG="0", BOUNCER_ENV="development", BOUNCER_THROTTLE_RELAXED="1",
        DATABASE_URL=urlsplit(args.postgres_url)._replace(path=f"/{args.database}").geturl(), REDIS_URL=args.redis_url,
        BOUNCER_LOCAL_DIR=local, ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    )
    os.chdir(tree)
    sys.path.insert(0, str(tree))
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import connection

        made = credentials([kind.strip() for kind in args.kinds.split(",") if kind.strip()])
        timings = measure(made, rounds=args.rounds, requests=args.requests)
        calls = calls_per_request(made, requests=args.calls) if args.calls else {}
        connection.close()
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.database)))
        redis.Redis.from_url(args.redis_url).flushdb()
    print(f"tree {tree}: median of {args.rounds} rounds, µs per GET {PROFILE} ({args.requests} requests per kind per round)")
    print(f"  {'kind':<8} {'CPU':>8} {'wall':>8} {'calls':>8}   CPU per round")
    result = {}
    for kind, values in timings.items():
        cpu, wall = statistics.median(values["cpu"]), statistics.median(values["wall"])
        result[kind] = {
            "cpu_median_us": round(cpu, 1), "wall_median_us": round(wall, 1),
            "cpu_rounds_us": [round(v, 1) for v in values["cpu"]], "wall_rounds_us": [round(v, 1) for v in values["wall"]],
            "python_calls_per_request": round(calls[kind], 1) if kind in calls else None,
        }
        shown = f"{calls[kind]:8.1f}" if kind in calls else f"{'-':>8}"
        print(f"  {kind:<8} {cpu:8.1f} {wall:8.1f} {shown}   {', '.join(f'{v:.0f}' for v in values['cpu'])}")
    if args.output:
        args.output.write_text(json.dumps({"tree": str(tree), "requests": args.requests, "kinds": result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
