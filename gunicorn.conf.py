"""gunicorn settings for Bouncer: ``gunicorn -c gunicorn.conf.py config.wsgi:application``.

Every value comes from the environment (the README's configuration table):

- ``BOUNCER_BIND`` (``0.0.0.0:8000``): address, or several, comma-separated;
- ``BOUNCER_WORKERS`` (2 × cores + 1, at most 8): worker processes;
- ``BOUNCER_TIMEOUT`` (30 s): a worker silent this long is killed and replaced;
- ``BOUNCER_GRACEFUL_TIMEOUT`` (30 s): on restart, how long requests in flight may finish;
- ``BOUNCER_KEEPALIVE`` (5 s): idle keep-alive connections from the proxy;
- ``BOUNCER_BEHIND_PROXY`` (off): off, gunicorn trusts no ``X-Forwarded-*`` header from
  anyone; on, it trusts them from ``BOUNCER_FORWARDED_ALLOW_IPS`` (``127.0.0.1``), the
  proxy's addresses (comma-separated).

One JSON object per request goes to stdout (the access log), errors to stderr.
Standalone on purpose: it does not import Django settings.

Several nodes (docs/deployment.md): ``BOUNCER_CONTROL_SOCKET`` (off) is the path of
gunicorn's control socket (``gunicornc``), one per node; production with several workers
and no ``REDIS_URL`` is warned about at start.
"""

import json
import multiprocessing
import os

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


# gunicorn 25.1+ opens a control socket (reload, shutdown, scaling at run time) at one
# path per user by default ($XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl):
# two nodes of one user on one machine would take it from each other, and the first
# to stop deletes the other's. Off unless this node is given a path of its own.
control_socket_path = env_str("BOUNCER_CONTROL_SOCKET", "").strip()
if control_socket_path:
    control_socket = control_socket_path
else:
    control_socket_disable = True


def on_starting(server):
    # Without Redis every process counts throttles and lockouts on its own: with
    # several workers (or nodes) an attacker gets that many times the attempts.
    if env_str("BOUNCER_ENV", "development").strip().lower() == "production" and server.cfg.workers > 1 \
            and not env_str("REDIS_URL", "").strip():
        server.log.warning(
            "%d workers without REDIS_URL: throttles and lockouts count per process "
            "(docs/deployment.md, Several nodes); set REDIS_URL, or run one worker", server.cfg.workers)
