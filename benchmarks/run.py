#!/usr/bin/env python
"""Load benchmark: Bouncer under gunicorn on 127.0.0.1, against PostgreSQL and Redis.

What it does, in order:

1. creates a dedicated PostgreSQL database (``bouncer_bench``) and flushes a
   dedicated Redis database (12), migrates, collects static files, and creates
   one user per server (``scenarios.SERVERS``);
2. starts one gunicorn per server on a free port of 127.0.0.1 (2 workers);
3. prepares every scenario (logs in, gets a token) and checks its request once;
4. runs wrk against each scenario in turn, round after round (interleaved),
   waiting between runs until every server is idle again;
5. prints, per scenario, the median req/s, p50 and p99 latency, errors and the
   ratio to the floor; checks the targets; reads each worker's peak memory
   (VmHWM); writes everything to ``benchmarks/results/<time>.json``;
6. stops the servers, drops the database, flushes the Redis database.

Only 127.0.0.1 is ever contacted. Run it with the project's virtualenv:
``make bench`` or ``.venv/bin/python benchmarks/run.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ first on the path; the repository
# root is what we want, so ``benchmarks.*``, ``config`` and ``bouncer`` import.
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))

from benchmarks.client import LOOPBACK, Client, Request  # noqa: E402
from benchmarks.scenarios import FLOOR, SCENARIOS, SERVERS, TARGETS, Scenario, Server  # noqa: E402

LUA = ROOT / "benchmarks" / "wrk" / "request.lua"
RESULTS = ROOT / "benchmarks" / "results"
WRK_INSTALL_HINT = "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)."


class BenchError(RuntimeError):
    """A problem that stops the run with a message, not a traceback."""


# --- command line -------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load-test Bouncer under gunicorn on 127.0.0.1 (see benchmarks/README.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="times every scenario runs (interleaved)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per scenario per round")
    parser.add_argument(
        "--max-extra-rounds",
        type=int,
        default=3,
        help="rounds to add when other programs took the CPU during one (such a round is not counted)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded load per scenario first (0: none)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=30, help="wrk: seconds before a request counts as timed out")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"], help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread)")
    parser.add_argument(
        "--scenarios", default="", help="comma-separated scenario names (default: all but the optional ones)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="run the optional scenarios too (jwt_*_1m: seeds a million refresh-token rows first)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and targets, and exit")
    parser.add_argument(
        "--settings",
        action="append",
        default=[],
        metavar="SERVER=MODULE",
        help="run SERVER with another settings module, to measure a candidate change (repeatable)",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="administrative connection used to create and drop the benchmark database",
    )
    parser.add_argument("--database", default="bouncer_bench", help="database created and dropped by the run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="Redis database flushed by the run")
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON result file (default: benchmarks/results/<time>.json)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and print where they are")
    args = parser.parse_args(argv)
    for name in ("rounds", "duration", "connections", "wrk_threads", "timeout", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.max_extra_rounds < 0:
        parser.error("--warmup and --max-extra-rounds must not be negative")
    return args


def check_loopback(args: argparse.Namespace) -> None:
    """Refuse anything but 127.0.0.1, and names that could be someone's real data."""
    for option, url in (("--postgres-url", args.postgres_url), ("--redis-url", args.redis_url)):
        host = urlsplit(url).hostname
        if host != LOOPBACK:
            raise BenchError(f"{option} must point at {LOOPBACK}, not {host!r}: this benchmark only runs locally")
    if not args.database.startswith("bouncer_bench"):
        raise BenchError("--database must start with 'bouncer_bench': the run drops it at the end")
    redis_db = urlsplit(args.redis_url).path.strip("/") or "0"
    if not redis_db.isdigit() or int(redis_db) == 0:
        raise BenchError("--redis-url must name a Redis database other than 0 (e.g. /12): the run flushes it")
    if int(redis_db) + sum(1 for server in SERVERS if server.database) > 15:
        raise BenchError("--redis-url: servers with a database of their own use the next Redis databases; pick <= 12")


def select_scenarios(names: str, *, include_optional: bool = False) -> list[Scenario]:
    if not names:
        return [scenario for scenario in SCENARIOS if include_optional or not scenario.optional]
    known = {scenario.name: scenario for scenario in SCENARIOS}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if FLOOR not in wanted:
        wanted.insert(0, FLOOR)  # every ratio needs it
    return [scenario for scenario in SCENARIOS if scenario.name in wanted]


# --- the machine --------------------------------------------------------------


def run_checked(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(command[:4])} ... failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_total_mib() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    return (result.stdout or result.stderr).splitlines()[0].strip() if (result.stdout or result.stderr) else "unknown"


def machine_info(wrk: str, postgres_version: str, redis_version: str) -> dict[str, Any]:
    versions = {}
    for package in ("Django", "djangorestframework", "gunicorn", "argon2-cffi", "psycopg", "django-redis"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_mib": memory_total_mib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "wrk": wrk_version(wrk),
        "postgresql": postgres_version,
        "redis": redis_version,
        "load_average_at_start": os.getloadavg(),
    }


# --- database and cache -------------------------------------------------------


class Storage:
    """The benchmark's own PostgreSQL database and Redis database number."""

    def __init__(self, *, postgres_url: str, database: str, redis_url: str) -> None:
        try:
            import psycopg
            import redis
        except ImportError as exc:
            raise BenchError(f"{exc.name} is missing: run with the project's virtualenv (make bench)") from None
        self._psycopg = psycopg
        self._admin_url = postgres_url
        self.database = database
        parts = urlsplit(postgres_url)
        self.database_url = parts._replace(path=f"/{database}").geturl()
        self.redis_url = redis_url
        self._redis = redis.Redis.from_url(redis_url)
        self.created = False

    def _admin(self):
        return self._psycopg.connect(self._admin_url, autocommit=True, connect_timeout=5)

    def postgres_version(self) -> str:
        with self._admin() as connection:
            return connection.execute("SHOW server_version").fetchone()[0]

    def redis_version(self) -> str:
        return str(self._redis.info("server").get("redis_version", "unknown"))

    def create(self, *, template: str | None = None) -> None:
        """Create the database, empty or as a copy of ``template`` (which nobody may be connected to)."""
        from psycopg import sql

        self.drop()  # a run that was killed may have left it
        with self._admin() as connection:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            connection.execute(statement)
        self.created = True
        self._redis.flushdb()

    def drop(self) -> None:
        from psycopg import sql

        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))
        self._redis.flushdb()


# --- servers ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def storage_for(args: argparse.Namespace, suffix: str, index: int) -> Storage:
    """The run's database and Redis database (index 0), or another pair: the
    database name plus ``suffix``, the Redis database number plus ``index``."""
    parts = urlsplit(args.redis_url)
    redis_db = int(parts.path.strip("/") or "0") + index
    return Storage(
        postgres_url=args.postgres_url,
        database=args.database + suffix,
        redis_url=parts._replace(path=f"/{redis_db}").geturl(),
    )


def server_env(*, settings: str, storage: Storage, local_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the caller's Bouncer/Django configuration leaks in, except
        # the Argon2 cost, which one may raise on purpose to measure it.
        if not key.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_"))
        or key.startswith("BOUNCER_ARGON2_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=storage.database_url,
        REDIS_URL=storage.redis_url,
        BOUNCER_ENV="development",
        BOUNCER_THROTTLE_RELAXED="1",
        BOUNCER_LOCAL_DIR=str(local_dir),
        # Access JWTs taken before the load must outlive the run (default 300 s).
        BOUNCER_JWT_ACCESS_SECONDS="7200",
        DJANGO_DEBUG="0",
        ALLOWED_HOSTS=f"{LOOPBACK},localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


def parse_marker(output: str, marker: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1 :])
    raise BenchError(f"no {marker} line in:\n{output}")


@dataclass
class RunningServer:
    spec: Server
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    setup: dict[str, Any] = field(default_factory=dict)
    worker_pids: list[int] = field(default_factory=list)
    #: A session of its own (stopped as a group either way). With the kernel's
    #: autogroup scheduling each session gets an equal share of a busy CPU, so
    #: servers compared *at the same time* (benchmarks/two_nodes.py) share one.
    own_session: bool = True

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def manage(self, *arguments: str, timeout: float = 300) -> str:
        return run_checked([sys.executable, "manage.py", *arguments], env=self.env, timeout=timeout)

    def run_setup(self) -> dict[str, Any]:
        return parse_marker(self.manage("shell", "-c", self.spec.setup), "BENCH_SETUP")

    def start(self, args: argparse.Namespace) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"{LOOPBACK}:{self.port}",
            "--workers", str(args.workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            "--timeout", "120",
            "--graceful-timeout", "5",
            "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir(),
            "--log-level", "warning",
        ]  # fmt: skip
        log = self.log_path.open("ab")
        # A process group of its own, so the whole server can be stopped as a group.
        group = {"start_new_session": True} if self.own_session else {"process_group": 0}
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, **group)
        log.close()

    def wait_ready(self, workers: int, timeout: float = 60) -> None:
        client = Client(port=self.port, setup={})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn '{self.spec.name}' exited ({self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if client.send(Request("/healthz"), timeout=2).status == 200:
                    pids = children(self.process.pid)
                    if len(pids) >= workers:
                        self.worker_pids = sorted(pids)
                        return
            time.sleep(0.2)
        raise BenchError(f"gunicorn '{self.spec.name}' not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        return [int(child) for child in path.read_text().split()]
    found = []  # kernels without CONFIG_PROC_CHILDREN
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB."""
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: A run during which other programs took more than this share of the CPU is flagged.
DISTURBED = 0.05
#: Processes whose CPU the benchmark causes, besides its servers and wrk.
SERVICES = ("postgres", "redis-server")


def process_ticks() -> dict[int, tuple[str, int]]:
    """Every process: pid -> (name, user + system clock ticks so far).

    For PostgreSQL and Redis, the time of their children that ended (and were
    reaped) counts too: a parallel query's workers live for one query, and
    their CPU would otherwise look like another program's.
    """
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12])
                if name in SERVICES:
                    ticks += int(fields[13]) + int(fields[14])  # cutime + cstime
                found[int(entry.name)] = (name, ticks)
    return found


class CpuMeter:
    """How much CPU the rest of the machine took while one load run went on.

    The machine's busy time (/proc/stat: user, nice, system) minus what the
    servers, PostgreSQL, Redis and wrk used. Another program busy during a run
    (a test suite, a build) takes CPU from the servers and lowers the figures;
    this says by how much, so a disturbed run can be told from a slow one, and
    names the busiest of those programs.
    """

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = set(server_pids)

    @staticmethod
    def _busy() -> int:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:4]
        return sum(int(value) for value in fields)

    @staticmethod
    def _children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def _ours(self, pid: int, name: str) -> bool:
        return pid in self.server_pids or name in SERVICES

    def __enter__(self) -> CpuMeter:
        self.start = (self._busy(), process_ticks(), self._children_cpu(), time.monotonic())
        return self

    def __exit__(self, *exc: object) -> None:
        busy, before, children, started = self.start
        after = process_ticks()
        self.elapsed = time.monotonic() - started
        self.busy_s = (self._busy() - busy) / CLOCK_TICKS
        ours = 0
        others: list[tuple[int, str, int]] = []
        # A process that started during the run counts with all its time (a
        # PostgreSQL backend opened when Django reconnects is ours); one that
        # ended during it cannot be seen, its time stays unattributed.
        for pid, (name, ticks) in after.items():
            previous = before.get(pid)
            delta = ticks - (previous[1] if previous and previous[0] == name else 0)
            if self._ours(pid, name):
                ours += delta
            elif delta > 0:
                others.append((delta, name, pid))
        self.ours_s = ours / CLOCK_TICKS + (self._children_cpu() - children)
        self.other_s = max(0.0, self.busy_s - self.ours_s)
        others.sort(reverse=True)
        self.top_others = [f"{name} ({pid}): {delta / CLOCK_TICKS:.1f} s" for delta, name, pid in others[:3]]
        self.visible_other_s = sum(delta for delta, _, _ in others) / CLOCK_TICKS

    def as_dict(self) -> dict[str, Any]:
        capacity = self.elapsed * (os.cpu_count() or 1)
        return {
            "machine_busy_share": round(self.busy_s / capacity, 3),
            "other_processes_share": round(self.other_s / capacity, 3),
            "visible_other_processes_share": round(self.visible_other_s / capacity, 3),
            "busiest_other_processes": self.top_others,
        }


def wait_idle(servers: list[RunningServer], *, timeout: float = 60) -> float:
    """Wait until no server burns CPU (requests queued by the last run are done).

    A server keeps working on requests wrk sent before it stopped (a slow
    login can have 16 queued); measuring the next scenario meanwhile would
    charge that work to it. Returns the seconds waited.
    """
    started = time.monotonic()
    pids = [pid for server in servers for pid in [server.process.pid, *server.worker_pids]]
    quiet = 0
    previous = cpu_ticks(pids)
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        current = cpu_ticks(pids)
        quiet = quiet + 1 if current - previous <= 1 else 0
        previous = current
        if quiet >= 2:
            break
    return time.monotonic() - started


# --- load ---------------------------------------------------------------------


def run_wrk(wrk: str, url: str, request: Request, *, duration: int, args: argparse.Namespace) -> dict[str, Any]:
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise BenchError(f"refusing to load {url}: only {LOOPBACK} is allowed")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BENCH_METHOD": request.method,
        "BENCH_BODY": request.body,
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in request.headers.items()),
    }
    if request.chain is not None:
        if len(request.chain.tokens) < args.connections:
            raise BenchError(f"{len(request.chain.tokens)} chained tokens for {args.connections} connections")
        env.update(
            BENCH_CHAIN_FIELD=request.chain.field,
            BENCH_CHAIN_TOKENS="\n".join(request.chain.tokens),
            BENCH_THREADS=str(args.wrk_threads),
        )
    pool_file = None
    if request.pool is not None:
        bodies = request.pool.take()
        # A file, not the environment: thousands of bodies exceed one variable's limit (128 KiB).
        with tempfile.NamedTemporaryFile("w", prefix="bench-pool-", suffix=".txt", delete=False) as handle:
            handle.write("\n".join(bodies) + "\n")
            pool_file = handle.name
        env.update(BENCH_POOL_FILE=pool_file, BENCH_THREADS=str(args.wrk_threads))
    command = [
        wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{duration}s",
        "--timeout", f"{args.timeout}s", "--latency", "-s", str(LUA), url + request.path,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + args.timeout + 30)
    finally:
        if pool_file is not None:
            os.unlink(pool_file)
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    raw = parse_marker(result.stdout, "BENCH_RESULT")
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    chain = {}
    if request.chain is not None:
        given = len(request.chain.tokens)
        line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH_CHAIN")), None)
        if line is None:
            raise BenchError(f"no BENCH_CHAIN line in wrk's output:\n{result.stdout}")
        # The tokens wrk did not spend; those spent by requests still in flight are lost.
        request.chain.tokens = line.split()[1:]
        chain = {"chain_tokens_given": given, "chain_tokens_back": len(request.chain.tokens)}
    if request.pool is not None:
        left = int(parse_marker(result.stdout, "BENCH_POOL")["left"])
        request.pool.used(len(bodies), left)
        chain = {"pool_bodies_given": len(bodies), "pool_bodies_left": left}
    return {
        **chain,
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "errors": errors,
        "error_kinds": {kind: count for kind, count in raw["errors"].items() if count},
    }


# --- report -------------------------------------------------------------------


def top_up(request: Request, args: argparse.Namespace) -> int:
    """A chained request: sign in again for the tokens lost in flight at the end of the last run;
    a pooled one: make the next run's bodies.

    Done before waiting for the servers to be idle, so these sign-ins (Argon2id)
    or rows are never charged to a measured run. Returns the sign-ins (items) added.
    """
    if request.pool is not None:
        return request.pool.top_up()
    if request.chain is None:
        return 0
    return request.chain.top_up(args.connections + args.wrk_threads)


def summarize(scenarios: list[Scenario], runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    floor_rps = statistics.median(run["rps"] for run in runs[FLOOR])
    floor_by_round = [run["rps"] for run in runs[FLOOR]]
    summary = {}
    for scenario in scenarios:
        rounds = runs[scenario.name]
        rps = statistics.median(run["rps"] for run in rounds)
        summary[scenario.name] = {
            "server": scenario.server,
            "group": scenario.group,
            "description": scenario.description,
            "rps": rps,
            "rps_min": min(run["rps"] for run in rounds),
            "rps_max": max(run["rps"] for run in rounds),
            "p50_ms": statistics.median(run["p50_ms"] for run in rounds),
            "p99_ms": statistics.median(run["p99_ms"] for run in rounds),
            "requests": sum(run["requests"] for run in rounds),
            "errors": sum(run["errors"] for run in rounds),
            "other_processes_share": statistics.median(run["cpu"]["other_processes_share"] for run in rounds),
            "ratio_to_floor": rps / floor_rps if floor_rps else 0.0,
            # The same ratio taken within each round, for a sense of its spread.
            "ratio_to_floor_per_round": [
                run["rps"] / base if base else 0.0 for run, base in zip(rounds, floor_by_round, strict=True)
            ],
        }
    return summary


def check_targets(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for target in TARGETS:
        if target.scenario not in summary or target.baseline not in summary:
            continue
        baseline = summary[target.baseline]["rps"]
        ratio = summary[target.scenario]["rps"] / baseline if baseline else 0.0
        errors = summary[target.scenario]["errors"] + summary[target.baseline]["errors"]
        results.append(
            {
                "target": target.description,
                "scenario": target.scenario,
                "baseline": target.baseline,
                "minimum": target.minimum,
                "ratio": ratio,
                # A run with errors proves nothing about throughput.
                "met": ratio >= target.minimum and errors == 0,
            }
        )
    return results


def print_report(result: dict[str, Any]) -> None:
    summary = result["summary"]
    config = result["config"]
    print()
    print(
        f"medians of {len(result['rounds_counted'])} rounds (of {result['rounds_run']} run) "
        f"x {config['duration_s']} s, "
        f"wrk -t{config['wrk_threads']} -c{config['connections']}, "
        f"gunicorn {config['workers']} x {config['worker_class']}"
        + (f" ({config['threads']} threads)" if config["worker_class"] == "gthread" else "")
        + f", {result['machine']['cpus']} CPUs ({result['machine']['cpu']})"
    )
    header = (
        f"{'scenario':<24}{'server':<9}{'req/s':>9}{'(min-max)':>17}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'x floor':>9}{'other':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in summary.items():
        spread = f"({row['rps_min']:.0f}-{row['rps_max']:.0f})"
        print(
            f"{name:<24}{row['server']:<9}{row['rps']:>9.1f}{spread:>17}{row['p50_ms']:>9.1f}"
            f"{row['p99_ms']:>9.1f}{row['errors']:>8}{row['ratio_to_floor']:>9.3f}{row['other_processes_share']:>7.0%}"
        )
    print("(other: median share of the machine's CPU that programs outside the benchmark took during the runs)")
    if result["targets"]:
        print("\nTargets (medians):")
        for target in result["targets"]:
            verdict = "MET" if target["met"] else "NOT MET"
            print(f"  {verdict:<8} {target['target']}: {target['ratio']:.2f} (needs {target['minimum']:g})")
    print("\nPeak memory per worker (VmHWM, MiB):")
    for name, server in result["servers"].items():
        peaks = ", ".join(f"{worker['vm_hwm_kib'] / 1024:.1f}" for worker in server["workers"])
        print(f"  {name:<8} {peaks}   ({server['description']})")
    for name, server in result["servers"].items():
        if server["hash_params"]:
            print(f"  {name:<8} password hash: {server['hash_params']}")
    if result["warnings"]:
        print("\nWarnings:")
        for warning in result["warnings"]:
            print(f"  - {warning}")
    if result["problems"]:
        print("\nProblems:")
        for problem in result["problems"]:
            print(f"  - {problem}")


# --- main ---------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            optional = "  (optional: --all)" if scenario.optional else ""
            print(f"{scenario.name:<24} [{scenario.server}] {scenario.description}{optional}")
        for target in TARGETS:
            print(f"target: {target.description}")
        return 0
    check_loopback(args)
    scenarios = select_scenarios(args.scenarios, include_optional=args.all)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError(WRK_INSTALL_HINT)

    storage = storage_for(args, "", 0)
    specs = {server.name: server for server in SERVERS}
    for override in args.settings:
        name, _, module = override.partition("=")
        if name not in specs or not module:
            raise BenchError(f"--settings {override!r}: expected SERVER=MODULE with SERVER one of {', '.join(specs)}")
        specs[name] = dataclasses.replace(specs[name], settings=module)
    needed = [specs[name] for name in dict.fromkeys(scenario.server for scenario in scenarios)]
    # Servers with a database of their own get it, and a Redis database of their own.
    storages = {"": storage}
    for spec in needed:
        if spec.database and spec.database not in storages:
            storages[spec.database] = storage_for(args, spec.database, len(storages))
    work_dir = Path(tempfile.mkdtemp(prefix="bouncer-bench-"))
    servers: dict[str, RunningServer] = {}
    problems: list[str] = []
    warnings: list[str] = []
    started_at = dt.datetime.now(dt.UTC)
    # SIGTERM (a CI timeout, a kill) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        info = machine_info(wrk, storage.postgres_version(), storage.redis_version())
        print(f"Preparing database {args.database} and {args.redis_url} ...", flush=True)
        storage.create()
        for spec in needed:
            env = server_env(settings=spec.settings, storage=storages[spec.database], local_dir=work_dir)
            servers[spec.name] = RunningServer(spec, free_port(), env, work_dir / f"{spec.name}.log")
        first = next(server for server in servers.values() if not server.spec.database)
        first.manage("migrate", "--noinput")
        for server in servers.values():
            if server.spec.migrate and not server.spec.database:
                server.manage("migrate", "--noinput")
        first.manage("collectstatic", "--noinput")
        # The JWT signing key ring, made once: left to the first request, each
        # gunicorn worker would make its own.
        first.manage("jwt_rotate_keys")
        for suffix, other in storages.items():
            if suffix:
                other.create(template=storage.database)  # the migrated schema, no rows yet
        for server in servers.values():
            server.setup = server.run_setup()
        seeds = {}
        for server in servers.values():
            if server.spec.seed:
                print(f"Seeding the database of {server.spec.name} ...", flush=True)
                output = server.manage("shell", "-c", server.spec.seed, timeout=900)
                seeds[server.spec.name] = parse_marker(output, "BENCH_SEED")
                print(f"  {seeds[server.spec.name]}", flush=True)

        print("Starting gunicorn: " + ", ".join(f"{s.spec.name} on :{s.port}" for s in servers.values()), flush=True)
        for server in servers.values():
            server.start(args)
        for server in servers.values():
            server.wait_ready(args.workers)

        requests = {}
        for scenario in scenarios:
            server = servers[scenario.server]
            client = Client(port=server.port, setup=server.setup, manage=server.manage)
            requests[scenario.name] = scenario.prepare(client)
            client.check(requests[scenario.name])
            top_up(requests[scenario.name], args)

        running = list(servers.values())
        if args.warmup:
            print(f"Warming up ({args.warmup} s per scenario) ...", flush=True)
            for scenario in scenarios:
                top_up(requests[scenario.name], args)
                wait_idle(running)
                run_wrk(
                    wrk, servers[scenario.server].base_url, requests[scenario.name], duration=args.warmup, args=args
                )

        server_pids = [pid for server in running for pid in [server.process.pid, *server.worker_pids]]
        # Every run, by scenario; a round is "clean" when other programs left
        # the CPU alone during all of its runs. A disturbed round is repeated
        # (at most --max-extra-rounds times) and left out of the medians.
        all_runs: dict[str, list[dict[str, Any]]] = {scenario.name: [] for scenario in scenarios}
        clean_rounds: list[int] = []
        round_number = 0
        while len(clean_rounds) < args.rounds and round_number < args.rounds + args.max_extra_rounds:
            round_number += 1
            disturbed = False
            for scenario in scenarios:
                refilled = top_up(requests[scenario.name], args)
                waited = wait_idle(running)
                with CpuMeter(server_pids) as meter:
                    run = run_wrk(
                        wrk,
                        servers[scenario.server].base_url,
                        requests[scenario.name],
                        duration=args.duration,
                        args=args,
                    )
                run["round"] = round_number
                run["idle_wait_s"] = round(waited, 2)
                if requests[scenario.name].chain is not None:
                    run["chain_sign_ins_added"] = refilled
                if requests[scenario.name].pool is not None:
                    run["pool_items_made"] = refilled
                run["cpu"] = meter.as_dict()
                all_runs[scenario.name].append(run)
                print(
                    f"round {round_number} ({len(clean_rounds)}/{args.rounds} clean) {scenario.name:<24} "
                    f"{run['rps']:9.1f} req/s  p50 {run['p50_ms']:7.1f} ms  p99 {run['p99_ms']:7.1f} ms  "
                    f"errors {run['errors']}  other programs {run['cpu']['other_processes_share']:.0%} of the CPU",
                    flush=True,
                )
                if run["cpu"]["other_processes_share"] > DISTURBED:
                    disturbed = True
                    busiest = ", ".join(run["cpu"]["busiest_other_processes"]) or "processes that have ended"
                    print(f"  other programs were busy: {busiest}", flush=True)
                if run["errors"]:
                    problems.append(f"{scenario.name} round {round_number}: {run['error_kinds']}")
            if disturbed:
                print(f"round {round_number} was disturbed by other programs; it is not counted", flush=True)
            else:
                clean_rounds.append(round_number)
        if len(clean_rounds) < args.rounds:
            warnings.append(
                f"only {len(clean_rounds)} of {args.rounds} rounds ran without other programs taking more than "
                f"{DISTURBED:.0%} of the CPU; the medians use every round and are low. Run again on a quiet machine."
            )
            counted = list(range(1, round_number + 1))
        else:
            counted = clean_rounds
        runs = {
            name: [run for run in scenario_runs if run["round"] in counted] for name, scenario_runs in all_runs.items()
        }

        server_results = {}
        for name, server in servers.items():
            pids = children(server.process.pid)
            if sorted(pids) != server.worker_pids:
                problems.append(f"{name}: workers were restarted during the run; their peak memory is incomplete")
            workers = []
            for pid in sorted(pids):
                memory = proc_status(pid)
                workers.append({"pid": pid, "vm_hwm_kib": memory.get("VmHWM", 0), "vm_rss_kib": memory.get("VmRSS", 0)})
            after = server.run_setup()  # the same snippet: reads the user's hash as it is now
            if server.spec.check_setup is not None:
                for when, setup in (("before", server.setup), ("after", after)):
                    problem = server.spec.check_setup(setup)
                    if problem:
                        problems.append(f"{name} ({when} the load): {problem}")
            server_results[name] = {
                "settings": server.spec.settings,
                "description": server.spec.description,
                "workers": workers,
                "peak_worker_vm_hwm_mib": max((w["vm_hwm_kib"] for w in workers), default=0) / 1024,
                "hash_params": after["hash_params"] if server.spec.check_setup is not None else "",
            }

        summary = summarize(scenarios, runs)
        result = {
            "started_at": started_at.isoformat(timespec="seconds"),
            "machine": info,
            "config": {
                "rounds": args.rounds,
                "max_extra_rounds": args.max_extra_rounds,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "connections": args.connections,
                "wrk_threads": args.wrk_threads,
                "wrk_timeout_s": args.timeout,
                "workers": args.workers,
                "worker_class": args.worker_class,
                "threads": args.threads,
                "argon2_env": {k: v for k, v in os.environ.items() if k.startswith("BOUNCER_ARGON2_")},
            },
            "summary": summary,
            "targets": check_targets(summary),
            "servers": server_results,
            "seeds": seeds,
            "rounds_run": round_number,
            "rounds_counted": counted,
            "runs": all_runs,
            "problems": problems,
            "warnings": warnings,
        }
        print_report(result)
        output = args.output or RESULTS / f"{started_at:%Y%m%d-%H%M%S}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nWrote {output}")
        if args.keep_logs:
            print(f"Server logs kept in {work_dir}")
        return 1 if problems else 0
    except KeyboardInterrupt:
        print("\nInterrupted; cleaning up.", file=sys.stderr)
        return 130
    except BenchError as error:
        for server in servers.values():
            tail = server.log_tail(15)
            if tail:
                print(f"--- {server.spec.name} log ---\n{tail}", file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for server in servers.values():
            server.stop()
        for each in reversed(storages.values()):
            if each.created:
                with contextlib.suppress(Exception):
                    each.drop()
        if not args.keep_logs:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
