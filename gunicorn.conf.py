"""gunicorn settings for Bouncer: ``gunicorn -c gunicorn.conf.py config.wsgi:application``.

Every value comes from the environment (the README's configuration table):

- ``BOUNCER_BIND`` (``0.0.0.0:8000``): address, or several, comma-separated;
- ``BOUNCER_WORKERS`` (2 × cores + 1, at most 8): worker processes;
- ``BOUNCER_TIMEOUT`` (30 s): a worker silent this long is killed and replaced;
- ``BOUNCER_GRACEFUL_TIMEOUT`` (30 s): on restart, how long requests in flight may finish;
- ``BOUNCER_KEEPALIVE`` (5 s): idle keep-alive connections from the proxy;
- ``BOUNCER_BEHIND_PROXY`` (off): off, gunicorn trusts no ``X-Forwarded-*`` header from
  anyone; on, it trusts them from ``BOUNCER_FORWARDED_ALLOW_IPS`` (``127.0.0.1``), the
  proxy's addresses or networks (comma-separated). From any other peer those headers are
  removed before Django sees them (``pre_request`` below), so a client that reaches a node
  directly cannot claim HTTPS or another address;
- ``BOUNCER_TLS_CERTFILE`` and ``BOUNCER_TLS_KEYFILE`` (unset): both set, gunicorn serves
  HTTPS itself with this certificate chain (PEM, the server's certificate first) and its
  private key, on every address of ``BOUNCER_BIND``, and nothing over plain HTTP; unset,
  plain HTTP for a TLS-terminating proxy in front. One without the other, a file that
  cannot be read, or a key that is not the certificate's stops gunicorn at start;
- ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory per start): where every
  worker keeps its Prometheus counts, so ``/metrics`` sums all workers (docs/operations.md#metrics).

One JSON object per request goes to stdout (the access log), errors to stderr.
Standalone on purpose: it does not import Django settings.

Several nodes (docs/deployment.md): ``BOUNCER_CONTROL_SOCKET`` (off) is the path of
gunicorn's control socket (``gunicornc``), one per node; production with several workers
and no ``REDIS_URL`` is warned about at start.
"""

import glob
import ipaddress
import json
import multiprocessing
import os
import shutil
import ssl
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

# TLS served by gunicorn itself (no proxy in front, or one that re-encrypts).
certfile = env_str("BOUNCER_TLS_CERTFILE", "").strip() or None
keyfile = env_str("BOUNCER_TLS_KEYFILE", "").strip() or None
if bool(certfile) != bool(keyfile):
    raise SystemExit("BOUNCER_TLS_CERTFILE and BOUNCER_TLS_KEYFILE go together: set both, or neither")
if certfile:
    # gunicorn's workers load the pair for each connection: a key that does not
    # match, or a file they cannot read, would start a server whose every
    # handshake fails. Load it once here so such a start stops at once.
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile=certfile, keyfile=keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"BOUNCER_TLS_CERTFILE={certfile!r} / BOUNCER_TLS_KEYFILE={keyfile!r} cannot be used: {exc}") from None

# Which peers may tell gunicorn the scheme and client address (X-Forwarded-*):
# nobody unless Bouncer is configured as behind a proxy, then only the proxy.
if env_bool("BOUNCER_BEHIND_PROXY", False):
    forwarded_allow_ips = env_str("BOUNCER_FORWARDED_ALLOW_IPS", "127.0.0.1")
else:
    forwarded_allow_ips = ""


def _networks(value):
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if item and item != "*":
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise SystemExit(f"BOUNCER_FORWARDED_ALLOW_IPS: {item!r} is not an address or network") from None
    return networks


_TRUSTED_ANY = "*" in [part.strip() for part in forwarded_allow_ips.split(",")]
_TRUSTED = _networks(forwarded_allow_ips)


def _trusted_peer(peer):
    if not isinstance(peer, tuple):  # a unix socket: only the proxy on this host can reach it
        return bool(forwarded_allow_ips)
    if _TRUSTED_ANY:
        return True
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 proxy
    return any(address in network for network in _TRUSTED)


def pre_request(worker, req):
    """Drop forwarding headers that did not come from the proxy.

    gunicorn's forwarded_allow_ips only decides its own ``wsgi.url_scheme``:
    the headers still reach Django, whose SECURE_PROXY_SSL_HEADER
    (X-Forwarded-Proto) and bouncer.core.http.client_ip (X-Forwarded-For,
    the throttles' and the audit log's address) read them from any peer. A
    client that reaches a node around the proxy could then pass as HTTPS or
    as any address, one new throttle bucket per request. Removed here, in
    the one place that knows the peer, they only ever come from the proxy.
    """
    if not _trusted_peer(req.peer_addr):
        req.headers = [
            (name, value) for name, value in req.headers
            if not (name.startswith("X-FORWARDED-") or name in ("FORWARDED", "X-REAL-IP"))
        ]
    worker.log.debug("%s %s", req.method, req.path)


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


def _warn_without_redis(server):
    # Without Redis every process counts throttles and lockouts on its own: with
    # several workers (or nodes) an attacker gets that many times the attempts.
    if env_str("BOUNCER_ENV", "development").strip().lower() == "production" and server.cfg.workers > 1 \
            and not env_str("REDIS_URL", "").strip():
        server.log.warning(
            "%d workers without REDIS_URL: throttles and lockouts count per process "
            "(docs/deployment.md, Several nodes); set REDIS_URL, or run one worker", server.cfg.workers)


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
    _warn_without_redis(server)
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
