"""A non-editable install (a wheel, ``pip install .``) carries every file Bouncer needs, and runs.

The wheel is built from a copy of the tracked files (so nothing untracked in
the work tree slips in, and the tree gets no build/ folder), compared file by
file with the tree, installed into a throw-away folder, and run from there:
PYTHONPATH first, the working directory outside the repository, so no module,
template or static file can come from the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

import bouncer
from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

PACKAGES = ("bouncer/", "config/")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    return [name for name in listed.stdout.split("\0") if name and (ROOT / name).is_file()]


def installed_files(site: Path) -> set[str]:
    return {
        path.relative_to(site).as_posix()
        for package in PACKAGES
        for path in (site / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the wheel, the pip output of its build, the files the tree ships)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    files = tracked_files()
    for name in files:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", str(source), "-w", str(tmp / "wheels")],
        cwd=tmp, capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr[-5000:]
    (wheel,) = (tmp / "wheels").glob("bouncer-*.whl")
    shipped = {name for name in files if name.startswith(PACKAGES)}
    return wheel, build.stdout + build.stderr, shipped, tmp


def test_the_wheel_holds_exactly_the_trees_package_files(built):
    wheel, output, shipped, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = {name for name in archive.namelist() if not name.startswith("bouncer-")}
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        licences = [n for n in archive.namelist() if "/licenses/" in n]
    # Every template, static file, migration and settings module; nothing else.
    assert {n for n in shipped if "/templates/" in n} and {n for n in shipped if "/static/" in n}
    assert {n for n in shipped if "/migrations/" in n} and "config/settings/env.py" in shipped
    assert sorted(shipped - names) == [], "missing from the wheel"
    assert sorted(names - shipped) == [], "in the wheel but not in the tree"

    # The license as an SPDX expression, with its file; the build warns about nothing in pyproject.toml.
    assert re.search(rf"^Version: {re.escape(bouncer.__version__)}$", metadata, re.M)  # from bouncer/__init__.py
    assert re.search(r"^License-Expression: BSD-3-Clause$", metadata, re.M)
    assert re.search(r"^License-File: LICENSE$", metadata, re.M) and licences
    assert not re.search(r"^License: ", metadata, re.M)
    for warning in ("SetuptoolsDeprecationWarning", "BuildBackendWarning", "is deprecated", "would be ignored"):
        assert warning not in output, output[output.find(warning) - 2000: output.find(warning) + 500]


def test_the_installed_copy_renders_its_pages_and_serves_its_static_files(built):
    wheel, _, shipped, tmp = built
    site = tmp / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    assert installed_files(site) == shipped

    run = tmp / "elsewhere"  # the working directory: outside the repository, empty
    run.mkdir()
    local = tmp / "local"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_", "PYTHON"))}
    env.update(PYTHONPATH=str(site), DJANGO_SETTINGS_MODULE="config.settings.base", BOUNCER_LOCAL_DIR=str(local), DJANGO_DEBUG="0")

    def python(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=run, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    where = python("-c", "import bouncer, config, django.conf as c; c.settings.TEMPLATES; print(bouncer.__file__); print(config.__file__)")
    assert all(Path(line).is_relative_to(site) for line in where.split()), where
    python("-m", "django", "migrate", "--noinput", "-v", "0")
    python("-m", "django", "collectstatic", "--noinput", "-v", "0")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=run, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    requests.get(f"{url}/healthz", timeout=2)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)

            # Pages rendered from the installed templates (the one layout, the sign-in form).
            for path, text in (("/", "Sign in"), ("/accounts/login/", 'name="username"')):
                page = requests.get(f"{url}{path}", timeout=10)
                assert page.status_code == 200 and text in page.text, (path, page.status_code, page.text[:500])
            stylesheet = re.search(r'href="(/static/bouncer/bouncer\.[0-9a-f]{12}\.css)"', page.text)
            assert stylesheet, "the layout links its collected, hashed stylesheet"

            # Static files collected from the installed apps, served by WhiteNoise, byte for byte.
            import json

            manifest = json.loads((local / "static/staticfiles.json").read_text())["paths"]
            assert manifest["bouncer/bouncer.css"] == stylesheet.group(1).removeprefix("/static/")
            for name, source in (("bouncer/bouncer.css", "bouncer/core/static/bouncer/bouncer.css"),
                                 ("multifactor/webauthn.js", "bouncer/multifactor/static/multifactor/webauthn.js")):
                served = requests.get(f"{url}/static/{manifest[name]}", timeout=10)
                assert served.status_code == 200, name
                assert served.content == (ROOT / source).read_bytes(), name
                assert "immutable" in served.headers["Cache-Control"]  # WhiteNoise's header for hashed names
            assert requests.get(f"{url}/static/bouncer/not-there.css", timeout=10).status_code == 404
        finally:
            server.terminate()
            server.wait(timeout=60)
