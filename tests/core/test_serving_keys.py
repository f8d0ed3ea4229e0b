"""Production loads its settings without signing keys (so the key commands can
run first) but refuses to serve without them, and never invents one."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bouncer.oauth.keys import oidc_keys_require, oidc_signing_pems

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_load_without_an_oidc_ring_and_invent_none(tmp_path):
    ring = tmp_path / "oidc_keys.json"
    assert oidc_signing_pems(private_key="", keys_file=str(ring), production=True) == []
    assert not ring.exists()
    with pytest.raises(ImproperlyConfigured, match="No OIDC signing key.*oidc_rotate_keys"):
        oidc_keys_require({"OIDC_RSA_PRIVATE_KEY": ""})


def _production(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        BOUNCER_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="auth.example.com",
        BOUNCER_LOCAL_DIR=str(tmp_path),
    )
    return env


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


SERVE = ["-c", "import config.wsgi"]  # what a gunicorn worker does when it boots


def test_production_refuses_to_serve_until_both_key_commands_ran(tmp_path):
    env = _production(tmp_path)

    served = _run(env, *SERVE)
    assert served.returncode != 0
    assert "No JWT signing key: set BOUNCER_JWT_PRIVATE_KEY(_FILE) or run manage.py jwt_rotate_keys" in served.stderr
    checked = _run(env, "manage.py", "check", "--deploy")
    assert checked.returncode != 0 and "bouncer.E020" in checked.stderr
    assert not (tmp_path / "jwt_keys.json").exists() and not (tmp_path / "oidc_keys.json").exists()

    assert _run(env, "manage.py", "jwt_rotate_keys").returncode == 0
    served = _run(env, *SERVE)
    assert served.returncode != 0
    assert "No OIDC signing key: set BOUNCER_OIDC_PRIVATE_KEY(_FILE) or run manage.py oidc_rotate_keys" in served.stderr

    rotated = _run(env, "manage.py", "oidc_rotate_keys")
    assert rotated.returncode == 0, rotated.stderr
    assert len(json.loads((tmp_path / "oidc_keys.json").read_text())) == 1
    served = _run(env, *SERVE)
    assert served.returncode == 0, served.stderr
    assert _run(env, "manage.py", "check", "--deploy").returncode == 0
