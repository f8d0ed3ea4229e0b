#!/usr/bin/env python
"""Two nodes against one: two gunicorn nodes with one worker each, versus one node
with two workers, on the same PostgreSQL database and the same Redis.

Both set-ups have the same number of worker processes on the same machine, so
the ratio says what running as two nodes costs (two arbiters, a cache and a
database shared over more connections, the key ring and the auth cache read by
processes that did not write them), not what it gains: on one machine a second
node adds no CPU. Run on two machines, the two-node figure is what each half
of a load balancer's traffic gets.

For each scenario (the profile with a session, a DRF token, an access JWT, an
OAuth2 access token; the chained JWT refresh; the floor), round after round,
interleaved:

- **one node**: one ``wrk -t2 -c16`` against the two-worker node;
- **two nodes**: two ``wrk -t1 -c8`` at once, one per node (the load split in
  half, as a round-robin balancer would), their req/s added; p50 is the mean of
  the two, p99 the larger.

Credentials are issued by one node and used on every node (they are valid on
all: one database, one cache). Each wrk of the refresh scenario has its own
chain of refresh tokens (a token is single use).

Prints per scenario the median req/s of each set-up and the two-node/one-node
ratio, and writes every run to ``benchmarks/results/two-nodes-<time>.json``.
Durations are bounded (``--rounds`` x ``--duration`` per scenario and set-up);
only 127.0.0.1 is contacted. Reuses benchmarks/run.py's servers, wrk runner
and CPU meter (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))

from benchmarks.client import LOOPBACK, Client  # noqa: E402
from benchmarks.run import (  # noqa: E402
    RESULTS,
    WRK_INSTALL_HINT,
    BenchError,
    CpuMeter,
    RunningServer,
    Storage,
    _interrupt,
    free_port,
    machine_info,
    run_wrk,
    server_env,
    top_up,
    wait_idle,
)
from benchmarks.scenarios import FLOOR, SCENARIOS, Server, check_bouncer_with_clients, user_setup  # noqa: E402

NAMES = ["floor", "profile_session", "profile_token", "profile_jwt", "profile_oauth2", "jwt_refresh"]
SERVER = Server(
    name="bouncer",
    settings="config.settings.base",
    description="Bouncer as configured: Argon2id, cached_db sessions in Redis, hashed DRF tokens",
    setup=user_setup("bench", oauth_clients=True),
    check_setup=check_bouncer_with_clients,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="times every scenario runs on each set-up (interleaved)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per scenario, set-up and round")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded load per scenario and set-up first")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in all (split in half for two nodes)")
    parser.add_argument("--timeout", type=int, default=30, help="wrk: seconds before a request counts as timed out")
    parser.add_argument("--scenarios", default=",".join(NAMES), help=f"comma-separated, among {', '.join(NAMES)}")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="administrative connection used to create and drop the database")
    parser.add_argument("--database", default="bouncer_bench_two_nodes", help="database created and dropped by the run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="Redis database flushed by the run")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args(argv)
    for name in ("rounds", "duration", "connections", "timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.connections % 2:
        parser.error("--connections must be even (split between the two nodes)")
    if args.duration > 60 or args.rounds > 10:
        parser.error("bounded runs only: --duration at most 60, --rounds at most 10")
    return args


def check_local(args: argparse.Namespace) -> None:
    for option, url in (("--postgres-url", args.postgres_url), ("--redis-url", args.redis_url)):
        if urlsplit(url).hostname != LOOPBACK:
            raise BenchError(f"{option} must point at {LOOPBACK}: this benchmark only runs locally")
    if not args.database.startswith("bouncer_") or "bench" not in args.database:
        raise BenchError("--database must start with 'bouncer_' and name a bench database: the run drops it")
    redis_db = urlsplit(args.redis_url).path.strip("/") or "0"
    if not redis_db.isdigit() or int(redis_db) == 0:
        raise BenchError("--redis-url must name a Redis database other than 0: the run flushes it")


def wrk_args(args: argparse.Namespace, *, connections: int, threads: int) -> argparse.Namespace:
    return argparse.Namespace(connections=connections, wrk_threads=threads, timeout=args.timeout)


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Two wrk runs at once, one per node: req/s added, p50 averaged, p99 the worse."""
    return {
        "rps": sum(run["rps"] for run in runs),
        "p50_ms": statistics.mean(run["p50_ms"] for run in runs),
        "p99_ms": max(run["p99_ms"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "per_node_rps": [run["rps"] for run in runs],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_local(args)
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    if FLOOR not in names:
        names.insert(0, FLOOR)
    scenarios = [scenario for scenario in SCENARIOS if scenario.name in names]
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError(WRK_INSTALL_HINT)
    storage = Storage(postgres_url=args.postgres_url, database=args.database, redis_url=args.redis_url)
    work_dir = Path(tempfile.mkdtemp(prefix="bouncer-two-nodes-"))
    env = server_env(settings=SERVER.settings, storage=storage, local_dir=work_dir)
    # All three in this session: with autogroup scheduling (Linux's default) each
    # session gets an equal share of a busy machine, and two nodes in two sessions
    # got about twice one node's CPU (a ratio near 2 that says nothing about Bouncer).
    one = RunningServer(SERVER, free_port(), env, work_dir / "one-node.log", own_session=False)
    pair = [RunningServer(SERVER, free_port(), env, work_dir / f"node-{name}.log", own_session=False) for name in "ab"]
    servers = [one, *pair]
    signal.signal(signal.SIGTERM, _interrupt)
    started_at = dt.datetime.now(dt.UTC)
    problems: list[str] = []
    try:
        info = machine_info(wrk, storage.postgres_version(), storage.redis_version())
        print(f"Preparing database {args.database} and {args.redis_url} ...", flush=True)
        storage.create()
        one.manage("migrate", "--noinput")
        one.manage("collectstatic", "--noinput")
        one.manage("jwt_rotate_keys")  # one key ring, made before any worker could make its own
        setup = one.run_setup()
        for server in servers:
            server.setup = setup
        one.start(argparse.Namespace(workers=2, worker_class="sync", threads=1))
        for node in pair:
            node.start(argparse.Namespace(workers=1, worker_class="sync", threads=1))
        one.wait_ready(2)
        for node in pair:
            node.wait_ready(1)
        print(f"one node :{one.port} (2 workers); two nodes :{pair[0].port}, :{pair[1].port} (1 worker each)", flush=True)

        # Requests: issued through node A, checked on every node. The refresh
        # chains are separate per wrk (single-use tokens).
        issuer = Client(port=pair[0].port, setup=setup, manage=one.manage)
        requests: dict[str, dict[str, Any]] = {}
        for scenario in scenarios:
            single = scenario.prepare(issuer)
            halves = [single] if single.chain is None else [scenario.prepare(issuer), scenario.prepare(issuer)]
            for server in servers:
                Client(port=server.port, setup=setup).check(single)
            requests[scenario.name] = {"one": single, "two": halves if len(halves) == 2 else [single, single]}

        one_wrk = wrk_args(args, connections=args.connections, threads=2)
        half_wrk = wrk_args(args, connections=args.connections // 2, threads=1)

        def load_one(name: str, duration: int) -> dict[str, Any]:
            request = requests[name]["one"]
            top_up(request, one_wrk)
            wait_idle(servers)
            with CpuMeter([pid for s in servers for pid in [s.process.pid, *s.worker_pids]]) as meter:
                run = run_wrk(wrk, one.base_url, request, duration=duration, args=one_wrk)
            return {**run, "cpu": meter.as_dict()}

        def load_two(name: str, duration: int) -> dict[str, Any]:
            halves = requests[name]["two"]
            for request in {id(r): r for r in halves}.values():
                top_up(request, half_wrk)
            wait_idle(servers)
            with CpuMeter([pid for s in servers for pid in [s.process.pid, *s.worker_pids]]) as meter, \
                    ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(run_wrk, wrk, node.base_url, request, duration=duration, args=half_wrk)
                           for node, request in zip(pair, halves, strict=True)]
                runs = [future.result() for future in futures]
            return {**combined(runs), "runs": runs, "cpu": meter.as_dict()}

        if args.warmup:
            print(f"Warming up ({args.warmup} s per scenario and set-up) ...", flush=True)
            for scenario in scenarios:
                load_one(scenario.name, args.warmup)
                load_two(scenario.name, args.warmup)
        runs: dict[str, dict[str, list]] = {s.name: {"one": [], "two": []} for s in scenarios}
        for number in range(1, args.rounds + 1):
            print(f"Round {number}/{args.rounds} ...", flush=True)
            for scenario in scenarios:
                runs[scenario.name]["one"].append(load_one(scenario.name, args.duration))
                runs[scenario.name]["two"].append(load_two(scenario.name, args.duration))

        summary = {}
        for scenario in scenarios:
            one_runs, two_runs = runs[scenario.name]["one"], runs[scenario.name]["two"]
            one_rps = statistics.median(run["rps"] for run in one_runs)
            two_rps = statistics.median(run["rps"] for run in two_runs)
            summary[scenario.name] = {
                "description": scenario.description,
                "one_node_rps": one_rps,
                "two_nodes_rps": two_rps,
                "ratio": two_rps / one_rps if one_rps else 0.0,
                "ratio_per_round": [t["rps"] / o["rps"] if o["rps"] else 0.0 for o, t in zip(one_runs, two_runs, strict=True)],
                "one_node_p99_ms": statistics.median(run["p99_ms"] for run in one_runs),
                "two_nodes_p99_ms": statistics.median(run["p99_ms"] for run in two_runs),
                "errors": sum(run["errors"] for run in one_runs + two_runs),
                "other_processes_share": statistics.median(
                    run["cpu"]["other_processes_share"] for run in one_runs + two_runs),
            }
            if summary[scenario.name]["errors"]:
                problems.append(f"{scenario.name}: {summary[scenario.name]['errors']} errors")
        result = {
            "started_at": started_at.isoformat(),
            "machine": info,
            "config": {"rounds": args.rounds, "duration_s": args.duration, "connections": args.connections,
                       "one_node": "1 gunicorn x 2 sync workers, wrk -t2 -c%d" % args.connections,
                       "two_nodes": "2 gunicorn x 1 sync worker, 2 x wrk -t1 -c%d" % (args.connections // 2)},
            "summary": summary,
            "runs": runs,
            "problems": problems,
        }
        print_report(result)
        output = args.output or RESULTS / f"two-nodes-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nwritten to {output}")
        return 1 if problems else 0
    finally:
        for server in servers:
            server.stop()
        try:
            storage.drop()
        except Exception as exc:  # noqa: BLE001 - report, then leave the rest of the clean-up to finish
            print(f"could not drop {args.database}: {exc}", file=sys.stderr)
        shutil.rmtree(work_dir, ignore_errors=True)


def print_report(result: dict[str, Any]) -> None:
    machine = result["machine"]
    print(f"\nmedians of {result['config']['rounds']} rounds x {result['config']['duration_s']} s; "
          f"one node: {result['config']['one_node']}; two nodes: {result['config']['two_nodes']}; "
          f"{machine['cpus']} CPUs ({machine['cpu']})")
    header = f"{'scenario':<18}{'1 node req/s':>14}{'2 nodes req/s':>15}{'2/1':>7}{'(per round)':>22}{'p99 1/2 ms':>16}{'errors':>8}{'other':>7}"
    print(header)
    print("-" * len(header))
    for name, row in result["summary"].items():
        rounds = " ".join(f"{ratio:.2f}" for ratio in row["ratio_per_round"])
        p99 = f"{row['one_node_p99_ms']:.1f}/{row['two_nodes_p99_ms']:.1f}"
        print(f"{name:<18}{row['one_node_rps']:>14.1f}{row['two_nodes_rps']:>15.1f}{row['ratio']:>7.2f}{rounds:>22}"
              f"{p99:>16}{row['errors']:>8}{row['other_processes_share']:>7.0%}")
    print("(2/1: two nodes' req/s over one node's; other: median share of the machine's CPU other programs took)")
    for problem in result["problems"]:
        print(f"problem: {problem}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
