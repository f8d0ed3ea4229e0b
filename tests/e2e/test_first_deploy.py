"""docs/deployment.md's first deploy, run as written on a fresh database in
production mode, then served by gunicorn with the shipped gunicorn.conf.py."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time

import requests

from tests.e2e.conftest import ROOT, free_port, server_database


def guide_commands() -> list[list[str]]:
    """The commands of the guide's first shell block, in order (exports and pip left out)."""
    block = (ROOT / "docs/deployment.md").read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith(("export ", "pip ")):
            commands.append(shlex.split(line))
    return commands


def test_the_guide_runs_in_order_and_gunicorn_serves(tmp_path):
    commands = guide_commands()
    names = [" ".join(command[:3]) for command in commands]
    assert names == [
        "python manage.py migrate",
        "python manage.py jwt_rotate_keys",
        "python manage.py oidc_rotate_keys",
        "python manage.py collectstatic",
        "python manage.py check",
        "gunicorn -c gunicorn.conf.py",
    ]
    local = tmp_path / "local"  # empty: no key, no secret, nothing a development run left
    local.mkdir()
    port = free_port()
    with server_database(os.environ.get("DATABASE_URL", ""), tmp_path) as db_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            BOUNCER_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(60),
            ALLOWED_HOSTS="127.0.0.1",
            DATABASE_URL=db_url,
            BOUNCER_LOCAL_DIR=str(local),
            BOUNCER_BEHIND_PROXY="1",
            BOUNCER_JWT_KEYS_FILE=str(tmp_path / "jwt_keys.json"),
            BOUNCER_OIDC_KEYS_FILE=str(tmp_path / "oidc_keys.json"),
            BOUNCER_OIDC_ISSUER="https://127.0.0.1/o",
            BOUNCER_FORWARDED_ALLOW_IPS="127.0.0.1",
            BOUNCER_BIND=f"127.0.0.1:{port}",
            BOUNCER_WORKERS="2",
        )
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]

        for command in commands[:-1]:
            done = subprocess.run(
                [sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
            if command[2] == "check":
                assert "WARNING" not in done.stderr + done.stdout

        log_path = tmp_path / "gunicorn.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", *commands[-1]], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while True:
                    try:
                        health = requests.get(f"{url}/healthz", headers={"User-Agent": 'probe "1"'}, timeout=2)
                        break
                    except (requests.ConnectionError, requests.Timeout):  # not listening yet
                        pass
                    assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
                assert health.status_code == 200
                # The OIDC key the guide's command created is the one served (through
                # the proxy's X-Forwarded-Proto, trusted from 127.0.0.1).
                ring = json.loads((tmp_path / "oidc_keys.json").read_text())
                jwks = requests.get(f"{url}/o/.well-known/jwks.json", headers={"X-Forwarded-Proto": "https"}, timeout=5)
                assert jwks.status_code == 200
                assert [key["kid"] for key in jwks.json()["keys"]] == [ring[0]["kid"]]
            finally:
                server.terminate()
                server.wait(timeout=60)

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    probe = [line for line in lines if line["path"] == "/healthz"]
    assert probe and probe[0]["status"] == 200 and probe[0]["method"] == "GET"
    assert probe[0]["user_agent"] == 'probe "1"'
