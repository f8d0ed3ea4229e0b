"""One place for the version: bouncer.__version__, read by the package metadata, the schema and /healthz."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import yaml

import bouncer

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", bouncer.__version__)


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "bouncer.__version__"}


def test_setuptools_resolves_the_version_from_the_package(monkeypatch):
    """What `pip install .` (editable or not) puts into the distribution's metadata."""
    import warnings

    from setuptools.config.pyprojecttoml import read_configuration

    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "[tool.setuptools] is still beta"
        # The setuptools installed here may predate the build-system's (>=77,
        # in pip's isolated build) and refuse the SPDX `license` string: only
        # that validation is let pass, the version is still resolved. The
        # real build's metadata is checked in tests/e2e/test_install.py.
        config = read_configuration(ROOT / "pyproject.toml", expand=True, ignore_option_errors=True)
    assert config["project"]["version"] == bouncer.__version__


def test_installed_metadata_matches_the_package():
    assert importlib.metadata.version("bouncer") == bouncer.__version__


def test_openapi_schema_carries_the_version(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["version"] == bouncer.__version__ == importlib.metadata.version("bouncer")


def test_changelog_has_a_section_for_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(bouncer.__version__)}\]", changelog, re.M)


def test_license_file_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # PEP 639: an SPDX expression and the file, which setuptools reads from 77 on.
    assert project["project"]["license"] == "BSD-3-Clause"
    assert project["project"]["license-files"] == ["LICENSE"]
    assert "setuptools>=77" in project["build-system"]["requires"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Redistribution and use in source and binary forms" in text
    assert "Neither the name of the copyright holder" in text
