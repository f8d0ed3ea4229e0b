#!/usr/bin/env python
"""What the metrics middleware costs: the floor and the token profile, with it and without it.

Two gunicorn servers in one run (``run.py``'s machinery: the same database,
Redis, wrk, interleaved rounds, medians, the check for other programs taking
the CPU): ``metrics``, Bouncer as configured (``MetricsMiddleware`` outermost,
prometheus_client in multiprocess mode through gunicorn.conf.py, as in
production), and ``nometrics`` (``benchmarks/settings_nometrics.py``: the
same without the middleware). It prints run.py's table, then per scenario
the req/s with and without and the cost (1 - with / without). Target: under 5%.

    .venv/bin/python benchmarks/metrics_cost.py                      # 5 rounds x 5 s
    .venv/bin/python benchmarks/metrics_cost.py --rounds 7 --duration 10

Its own database and Redis database (``bouncer_metrics_bench``, Redis 3 by
default), so it can run beside ``make bench``. Only 127.0.0.1 is contacted.
Any other run.py option passes through (``--workers``, ``--connections`` ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402
from benchmarks.scenarios import Scenario, Server, Target, floor, profile_with_bouncer_token, user_setup  # noqa: E402

#: Pairs (with the middleware, without it): the first is run.py's floor, every ratio's base.
PAIRS = (("floor", "floor_nometrics"), ("profile_token", "profile_token_nometrics"))
TARGET_COST = 0.05

SERVERS = [
    Server(
        name="metrics",
        settings="config.settings.base",
        description="Bouncer as configured: MetricsMiddleware outermost, multiprocess metrics (gunicorn.conf.py)",
        setup=user_setup("bench_metrics"),
    ),
    Server(
        name="nometrics",
        settings="benchmarks.settings_nometrics",
        description="The same without MetricsMiddleware",
        setup=user_setup("bench_nometrics"),
    ),
]
SCENARIOS = [
    Scenario("floor", "metrics", "GET /healthz, with the metrics middleware", floor, group="floor"),
    Scenario("profile_token", "metrics", "GET profile, Authorization: Token, with the middleware", profile_with_bouncer_token),
    Scenario("floor_nometrics", "nometrics", "GET /healthz, without the metrics middleware", floor, group="floor"),
    Scenario("profile_token_nometrics", "nometrics", "GET profile, Token, without the middleware", profile_with_bouncer_token),
]
TARGETS = [
    Target(with_, without, 1 - TARGET_COST, f"{with_} with the metrics middleware at >= {1 - TARGET_COST:.0%} of without")
    for with_, without in PAIRS
]

_check_loopback = run.check_loopback


def check_loopback(args: argparse.Namespace) -> None:
    """run.py's check, for this benchmark's own database name (run.py's must start with ``bouncer_bench``)."""
    if not args.database.startswith("bouncer_metrics"):
        raise run.BenchError("--database must start with 'bouncer_metrics': the run drops it at the end")
    _check_loopback(argparse.Namespace(**{**vars(args), "database": "bouncer_bench_" + args.database}))


#: In a process of its own, in multiprocess mode (as under gunicorn), free of wrk's and the
#: network's noise: (1) a resolved GET /healthz through MetricsMiddleware around a view that
#: does nothing, against the bare view; (2) the whole floor request in-process (Django's
#: test client: every middleware, the view) with the middleware and without. Best of several
#: alternating repeats, in microseconds per request.
MICRO = """
import json, time
import django
django.setup()
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import resolve
from bouncer.core.metrics import MetricsMiddleware
from prometheus_client import values

def best(calls, n, repeats=15):
    out = {name: float("inf") for name in calls}
    for repeat in range(repeats):
        order = list(calls.items())
        for name, call in order if repeat % 2 else order[::-1]:  # alternating: neither always goes first
            start = time.perf_counter()
            for _ in range(n):
                call()
            out[name] = min(out[name], (time.perf_counter() - start) / n * 1e6)
    return out

request = RequestFactory().get("/healthz")
request.resolver_match = resolve("/healthz")
response = HttpResponse()
view = lambda request: response
wrapped = MetricsMiddleware(view)
alone = best({"with": lambda: wrapped(request), "without": lambda: view(request)}, 20000)

with_client = Client()
assert with_client.get("/healthz").status_code == 200
with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != "bouncer.core.metrics.MetricsMiddleware"]):
    without_client = Client()
    assert without_client.get("/healthz").status_code == 200  # its handler keeps this middleware list
floor = best({"with": lambda: with_client.get("/healthz"), "without": lambda: without_client.get("/healthz")}, 300)
print("BENCH_MICRO " + json.dumps({"multiprocess": values.ValueClass is not values.MutexValue, "alone": alone, "floor": floor}))
"""


def micro() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bouncer-metrics-micro-"))
    try:
        (work / "prom").mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_"))}
        env.update(DJANGO_SETTINGS_MODULE="config.settings.base", BOUNCER_LOCAL_DIR=str(work), PROMETHEUS_MULTIPROC_DIR=str(work / "prom"),
                   DJANGO_DEBUG="0", ALLOWED_HOSTS="testserver")
        output = subprocess.run([sys.executable, "-c", MICRO], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True).stdout
        return run.parse_marker(output, "BENCH_MICRO")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_micro(figures: dict) -> None:
    alone, floor = figures["alone"], figures["floor"]
    mode = "multiprocess" if figures["multiprocess"] else "single-process"
    cost_us = alone["with"] - alone["without"]
    share = cost_us / floor["without"]
    print(f"\nIn-process, {mode} values (best of 15 alternating repeats, microseconds per request):")
    print(f"  the floor request (every middleware, the view, Django's test client): {floor['with']:.1f} us with the"
          f" middleware, {floor['without']:.1f} us without ({1 - floor['without'] / floor['with']:+.1%}; noisy on a busy machine)")
    print(f"  the middleware alone: {cost_us:.1f} us = {share:.1%} of the floor request without it"
          f"  {'MET' if share < TARGET_COST else 'NOT MET'} (target < {TARGET_COST:.0%})")


def main(argv: list[str]) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--output", type=Path, default=None)
    own.add_argument("--micro-only", action="store_true", help="only time the middleware in-process (no servers, no wrk)")
    known, rest = own.parse_known_args(argv)
    if known.micro_only:
        print_micro(micro())
        return 0
    output = known.output or Path(tempfile.mkdtemp(prefix="bouncer-metrics-cost-")) / "result.json"
    defaults = ["--rounds", "5", "--duration", "5", "--database", "bouncer_metrics_bench", "--redis-url", "redis://127.0.0.1:6379/3"]
    # run.py's module-level tables, replaced for this run only: its main() reads them at call time.
    run.SERVERS, run.SCENARIOS, run.TARGETS, run.check_loopback = SERVERS, SCENARIOS, TARGETS, check_loopback
    status = run.main([*defaults, *rest, "--scenarios", ",".join(name for pair in PAIRS for name in pair), "--output", str(output)])
    if not output.exists():
        return status
    result = json.loads(output.read_text())
    summary, counted = result["summary"], set(result["rounds_counted"])
    print("\nMetrics middleware cost (medians):")
    print(f"{'scenario':<16}{'with req/s':>12}{'without req/s':>15}{'with/without':>14}{'cost':>8}  target < {TARGET_COST:.0%}")
    for with_, without in PAIRS:
        a, b = summary[with_]["rps"], summary[without]["rps"]
        ratio = a / b if b else 0.0
        verdict = "MET" if ratio >= 1 - TARGET_COST else "NOT MET"
        print(f"{with_:<16}{a:>12.1f}{b:>15.1f}{ratio:>14.3f}{1 - ratio:>8.1%}  {verdict}")
        # The same ratio within each round (the two runs of a round are seconds apart), for its spread.
        by_round = {run_["round"]: run_["rps"] for run_ in result["runs"][without] if run_["round"] in counted}
        rounds = [f"{run_['rps'] / by_round[run_['round']]:.3f}" for run_ in result["runs"][with_] if by_round.get(run_["round"])]
        print(f"{'':<16}per round: {', '.join(rounds)}")
    print_micro(micro())
    print(f"\nWrote {output}")
    return status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except run.BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
