"""gunicorn settings for Bouncer: ``gunicorn -c gunicorn.conf.py config.wsgi:application``.

Every value comes from the environment (the README's configuration table):

- ``BOUNCER_BIND`` (``0.0.0.0:8000``): address, or several, comma-separated;
- ``BOUNCER_WORKERS`` (2 × cores + 1, at most 8): worker processes;
- ``BOUNCER_TIMEOUT`` (30 s): a worker silent this long is killed and replaced;
- ``BOUNCER_GRACEFUL_TIMEOUT`` (30 s): on restart, how long requests in flight may finish;
- ``BOUNCER_KEEPALIVE`` (5 s): idle keep-alive connections from the proxy;
- ``BOUNCER_BEHIND_PROXY`` (off): off, gunicorn trusts no ``X-Forwarded-*`` header from
  anyone; on, it trusts them from ``BOUNCER_FORWARDED_ALLOW_IPS`` (``127.0.0.1``), the
  proxy's addresses (comma-separated);
- ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory per start): where every
  worker keeps its Prometheus counts, so ``/metrics`` sums all workers (docs/operations.md#metrics).

One JSON object per request goes to stdout (the access log), errors to stderr.
Standalone on purpose: it does not import Django settings.
"""

import glob
import json
import multiprocessing
import os
import shutil
import tempfile

from gunicorn.glogging import Logger, SafeAtoms

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SystemExit(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name, default, *, minimum=1):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer") from None
    if number < minimum:
        raise SystemExit(f"{name}={number} must be at least {minimum}")
    return number


bind = [address.strip() for address in env_str("BOUNCER_BIND", "0.0.0.0:8000").split(",") if address.strip()]
workers = env_int("BOUNCER_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
timeout = env_int("BOUNCER_TIMEOUT", 30)
graceful_timeout = env_int("BOUNCER_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("BOUNCER_KEEPALIVE", 5)

# Which peers may tell gunicorn the scheme and client address (X-Forwarded-*):
# nobody unless Bouncer is configured as behind a proxy, then only the proxy.
if env_bool("BOUNCER_BEHIND_PROXY", False):
    forwarded_allow_ips = env_str("BOUNCER_FORWARDED_ALLOW_IPS", "127.0.0.1")
else:
    forwarded_allow_ips = ""


class JsonSafeAtoms(SafeAtoms):
    """Values escaped for a JSON string (quotes, backslashes, control characters)."""

    def __init__(self, atoms):
        super().__init__({})
        for key, value in atoms.items():
            self[key] = json.dumps(value)[1:-1] if isinstance(value, str) else value


class JsonAccessLogger(Logger):
    atoms_wrapper_class = JsonSafeAtoms


logger_class = JsonAccessLogger
accesslog = "-"
errorlog = "-"
access_log_format = (
    '{"time": "%(t)s", "remote_addr": "%(h)s", "method": "%(m)s", "path": "%(U)s", "query": "%(q)s", '
    '"protocol": "%(H)s", "status": %(s)s, "bytes": "%(B)s", "duration_us": %(D)s, '
    '"referer": "%(f)s", "user_agent": "%(a)s", "request_id": "%({x-request-id}i)s"}'
)


# Prometheus metrics from every worker (bouncer/core/metrics.py): prometheus_client's
# multiprocess mode, in which each worker writes its counts to files in one directory
# and a scrape sums them. The variable must be set before a worker imports
# prometheus_client: in the master, at start (``on_starting``, before any worker is
# forked; so never ``preload_app``, which loads Bouncer earlier). Not given: a fresh
# directory for this start, removed at exit; a reload (SIGHUP) keeps it and the counts.
# Nothing happens when this file is only read (a test importing it, --check-config).
_METRICS_DIR_OURS = "_BOUNCER_METRICS_DIR_CREATED"  # "<master pid>:<directory>", so only its maker removes it


def on_starting(server):
    """Once per start of the master (not on a reload)."""
    directory = env_str("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not directory:
        directory = tempfile.mkdtemp(prefix="bouncer-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        os.environ[_METRICS_DIR_OURS] = f"{os.getpid()}:{directory}"
        return
    # Given by the operator: counts left by an earlier run are not this run's.
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    """A worker ended: its live gauges go (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    pid, _, directory = os.environ.get(_METRICS_DIR_OURS, "").partition(":")
    if pid == str(os.getpid()) and directory == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(directory, ignore_errors=True)
