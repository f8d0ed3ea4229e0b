"""/metrics under gunicorn with gunicorn.conf.py and two workers: every worker counts.

The server is started as the deployment guide starts it (``-c gunicorn.conf.py``,
no PROMETHEUS_MULTIPROC_DIR given, so the config makes a fresh directory for
this start). Sign-ins, failed sign-ins, JWT sign-ins and refreshes are sent
from several threads at once, on a new connection each, so both sync workers
serve some; each worker's own counts are read from its file in the
multiprocess directory (found in the workers' environment), and the scrape,
answered by one worker and parsed with prometheus_client's parser, must give
the totals of both.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ROOT, free_port, server_database, server_env, server_prepare

pytestmark = pytest.mark.e2e

SECRET = "e2e-metrics-secret-" + secrets.token_hex(16)
PASSWORD = "metrics-e2e-pass-1"
#: Rounds of load at most, each a fixed number of requests: bounded in count, and in time by the timeouts.
MAX_ROUNDS = 5
SIGNINS, FAILURES, JWTS = 6, 6, 4


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _multiproc_dir(workers: list[int]) -> str:
    """The directory gunicorn.conf.py made for this start: the temporary one holding these workers' files.

    (Each worker writes ``counter_<pid>.db`` there as it loads the metrics; the
    variable itself, set by the master after it started, is not in ``/proc/<pid>/environ``.)
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = {str(path.parent) for pid in workers for path in Path(tempfile.gettempdir()).glob(f"bouncer-metrics-*/counter_{pid}.db")}
        if len(found) == 1:
            return found.pop()
        time.sleep(0.2)
    raise AssertionError(f"no multiprocess directory with the files of workers {workers}")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """(url, master pid, env) of gunicorn started with gunicorn.conf.py and two workers."""
    local = tmp_path_factory.mktemp("metrics-node")
    with server_database(os.environ.get("DATABASE_URL", ""), local, prefix="bouncer_metrics_e2e") as db_url:
        port = free_port()
        env = server_env(db_url=db_url, local_dir=local, BOUNCER_METRICS_TOKEN=SECRET,
                         BOUNCER_BIND=f"127.0.0.1:{port}", BOUNCER_WORKERS="2")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the config's own default: a fresh directory
        server_prepare(env)
        # One key ring for both workers (left to the first request, each would make its own).
        subprocess.run([sys.executable, "manage.py", "jwt_rotate_keys"], cwd=ROOT, env=env, check=True, timeout=120,
                       capture_output=True)
        log = open(local / "gunicorn.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=1).status_code == 200 and len(_children(process.pid)) == 2:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{(local / 'gunicorn.log').read_text()}")
                time.sleep(0.2)
            directory = _multiproc_dir(_children(process.pid))
            yield url, process.pid, directory
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()
    assert not Path(directory).exists(), "the directory the config made for this start is removed at exit"


def _scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _per_worker(directory: str, name: str, **labels) -> dict[int, float]:
    """One sample's value in each worker's own file (counter_<pid>.db)."""
    found = {}
    for path in Path(directory).glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
            for sample in metric.samples:
                if sample.name == name and sample.labels == labels:
                    found[pid] = found.get(pid, 0.0) + sample.value
    return found


def _round(url: str, username: str, round_number: int) -> dict[str, int]:
    """One round of load from four threads; what it did."""
    def signin(i):
        return requests.post(f"{url}/api/accounts/login/", json={"username": username, "password": PASSWORD}, timeout=30).status_code

    def failure(i):
        # Unknown names: failures that never lock the account the other requests use.
        return requests.post(f"{url}/api/accounts/login/", timeout=30,
                             json={"username": f"nobody_{round_number}_{i}", "password": "wrong-password-1"}).status_code

    def jwt(i):
        pair = requests.post(f"{url}/api/token/", json={"username": username, "password": PASSWORD}, timeout=30)
        assert pair.status_code == 200, pair.text
        return requests.post(f"{url}/api/token/refresh/", json={"refresh": pair.json()["refresh"]}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        signins = list(pool.map(signin, range(SIGNINS)))
        failures = list(pool.map(failure, range(FAILURES)))
    # One at a time: concurrent JWT sign-ins of one user can meet SQLite's "database is
    # locked" (a 500; reported, not this test's subject). Each still lands on either worker.
    refreshes = [jwt(i) for i in range(JWTS)]
    assert set(signins) == {200} and set(refreshes) == {200}
    assert set(failures) <= {400, 401}
    return {"signins": SIGNINS, "failures": FAILURES, "jwts": JWTS}


def test_metrics_are_the_totals_of_every_worker(node):
    url, master, directory = node
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 404  # closed to anyone without the secret
    username = "metrics_e2e"
    registered = requests.post(f"{url}/api/accounts/register/", timeout=30,
                               json={"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    before = _scrape(url)
    done = {"signins": 0, "failures": 0, "jwts": 0}
    for round_number in range(MAX_ROUNDS):
        for key, value in _round(url, username, round_number).items():
            done[key] += value
        workers = _per_worker(directory, "bouncer_signins_total", method="session", outcome="succeeded")
        if len([pid for pid, value in workers.items() if value > 0]) >= 2:
            break
    workers = _per_worker(directory, "bouncer_signins_total", method="session", outcome="succeeded")
    assert len([value for value in workers.values() if value > 0]) >= 2, f"one worker served every sign-in: {workers}"
    assert set(workers) <= set(_children(master)), "files of this start's workers only"

    after = _scrape(url)

    def moved(name, **labels):
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert after[("bouncer_signins_total", frozenset({"method": "session", "outcome": "succeeded"}.items()))] == sum(workers.values())
    assert moved("bouncer_signins_total", method="session", outcome="succeeded") == done["signins"]
    assert moved("bouncer_signins_total", method="session", outcome="failed") == done["failures"]
    assert moved("bouncer_credentials_issued_total", kind="session") == done["signins"]
    assert moved("bouncer_signins_total", method="jwt", outcome="succeeded") == done["jwts"]
    assert moved("bouncer_credentials_issued_total", kind="jwt") == done["jwts"]
    assert moved("bouncer_refreshes_total", kind="jwt", outcome="rotated") == done["jwts"]
    # The latency histogram, by URL pattern and status class, counts the same requests.
    count = "bouncer_http_request_duration_seconds_count"
    assert moved(count, route="api/accounts/login/", method="POST", status="2xx") == done["signins"]
    assert moved(count, route="api/accounts/login/", method="POST", status="4xx") == done["failures"]
    assert moved(count, route="api/token/refresh/", method="POST", status="2xx") == done["jwts"]
    buckets = [key for key in after if key[0] == "bouncer_http_request_duration_seconds_bucket"
               and ("route", "api/accounts/login/") in key[1]]
    assert buckets, "the histogram's buckets carry the route label"
