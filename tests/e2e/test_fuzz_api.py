"""Schemathesis fuzzes the whole OpenAPI description against a live Bouncer (gunicorn, 127.0.0.1).

The server answers every generated request — valid and invalid bodies,
parameters and content — and the run fails on any 5xx, any status code the
description does not list for that operation, any body that does not match
the schema of its status, a wrong content type, or an answer slower than
``MAX_RESPONSE_SECONDS``. Authenticated operations get a real credential
(tests/e2e/fuzz_hooks.py). Throttles are relaxed (``BOUNCER_THROTTLE_RELAXED``)
so the cases reach the code behind them; the throttles' 429 is still in the
description and would pass. The run is deterministic (schemathesis'
deterministic generation: the same cases every run, no seed involved) and
bounded: the coverage phase's boundary and invalid values (about 2,500 cases),
``MAX_EXAMPLES`` more per operation in the fuzzing phase, within ``MAX_SECONDS``.
See docs/api.md, "Fuzzing".
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import ROOT, bouncer_server, server_database, server_env, server_prepare
from tests.e2e.oauth_support import authlib_over_http, create_client  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("BOUNCER_FUZZ_EXAMPLES", "10"))
MAX_RESPONSE_SECONDS = 5
MAX_SECONDS = 360  # a hang is a failure, not a stuck CI job (about 2 minutes on an idle machine)
MIN_CASES = 2000
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PASSWORD = "fuzz-e2e-pass-Q7x"
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]


def _account(url: str, username: str) -> None:
    answer = requests.post(f"{url}/api/accounts/register/", timeout=10,
                           json={"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert answer.status_code == 201, answer.text


def _credentials(url: str, env: dict) -> dict:
    """A live credential of each kind, each of its own account, and the account minting tokens for the logout.

    The names are new every run: the lockout counters live in Redis, which outlives the database.
    """
    run = secrets.token_hex(3)
    names = {kind: f"fuzz-{kind}-{run}" for kind in ("token", "jwt", "oauth", "logout")}
    for name in names.values():
        _account(url, name)
    token = requests.post(f"{url}/api/auth-token/", json={"username": names["token"], "password": PASSWORD}, timeout=10)
    jwt = requests.post(f"{url}/api/token/", json={"username": names["jwt"], "password": PASSWORD}, timeout=10)
    assert token.status_code == 200 and jwt.status_code == 200, (token.text, jwt.text)
    client_id, secret = create_client(env, "Fuzz", "--type", "confidential", "--grant", "password")
    oauth = OAuth2Session(client_id, secret, scope="read write openid profile email").fetch_token(
        f"{url}/o/token/", grant_type="password", username=names["oauth"], password=PASSWORD)
    return {
        "url": url,
        "headers": {
            "token": f"Token {token.json()['token']}",
            "jwt": f"Bearer {jwt.json()['access']}",
            "oauth2": f"Bearer {oauth['access_token']}",
            "client": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        },
        "logout": {"username": names["logout"], "password": PASSWORD},
    }


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    local = tmp_path_factory.mktemp("fuzz")
    base = os.environ.get("DATABASE_URL", "")
    with server_database(base, local, prefix=f"{urlsplit(base).path.strip('/') or 'bouncer'}_fuzz") as db_url:
        # The JWT lives for the whole run; the throttles let the cases through.
        env = server_env(db_url=db_url, local_dir=local, BOUNCER_THROTTLE_RELAXED="1", BOUNCER_JWT_ACCESS_SECONDS="1800")
        server_prepare(env)
        with bouncer_server(env, log_name="fuzz-server.log") as url:
            yield url, env, local


def _cases(ndjson: Path) -> int:
    """How many requests schemathesis sent: the scenario events of its NDJSON report."""
    count = 0
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished:
            count += len(finished.get("recorder", {}).get("interactions", {}))
    return count


def test_fuzz_whole_api(fuzz_server):
    url, env, local = fuzz_server
    credentials = _credentials(url, env)
    report = local / "schemathesis"
    command = [
        *SCHEMATHESIS, "--no-color", "run", f"{url}/api/schema/?format=json", "--url", url,
        "--checks", CHECKS, "--max-response-time", str(MAX_RESPONSE_SECONDS),
        "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        "--phases", "examples,coverage,fuzzing", "--workers", "2", "--max-redirects", "0",
        "--request-timeout", "30", "--suppress-health-check", "all", "--continue-on-failure",
        "--report", "ndjson", "--report-dir", str(report), "--report-ndjson-path", str(report / "events.ndjson"),
    ]
    fuzz_env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "BOUNCER_FUZZ_CREDENTIALS": json.dumps(credentials),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1",
    }
    result = subprocess.run(command, cwd=local, env=fuzz_env, capture_output=True, text=True, timeout=MAX_SECONDS)
    output = result.stdout[-20000:] + result.stderr[-5000:]
    (local / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, output
    cases = _cases(report / "events.ndjson")
    assert cases >= MIN_CASES, f"only {cases} cases\n{output[-3000:]}"
