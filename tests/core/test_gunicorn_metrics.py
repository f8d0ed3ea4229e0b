"""gunicorn.conf.py's metrics directory: fresh per start unless given, emptied when given, removed only by its maker."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def conf(monkeypatch):
    for name in ("PROMETHEUS_MULTIPROC_DIR", "_BOUNCER_METRICS_DIR_CREATED"):
        # Set first, so the teardown restores the original (absent) even after on_starting sets it.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_reading_the_config_changes_nothing(conf):
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_not_given_a_fresh_directory_per_start_removed_at_exit(conf):
    conf["on_starting"](None)
    first = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert first.is_dir() and not list(first.iterdir())
    conf["on_exit"](None)
    assert not first.exists()


def test_given_it_is_emptied_at_start_and_kept_at_exit(conf, tmp_path, monkeypatch):
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"stale")
    (directory / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    conf["on_starting"](None)
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]
    conf["on_exit"](None)
    assert directory.is_dir()


def test_a_directory_another_process_made_is_not_removed(conf, tmp_path, monkeypatch):
    directory = tmp_path / "theirs"
    directory.mkdir()
    # Inherited from another gunicorn master (its pid is not ours).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    monkeypatch.setenv("_BOUNCER_METRICS_DIR_CREATED", f"{os.getpid() + 1}:{directory}")
    conf["on_exit"](None)
    assert directory.is_dir()


def test_the_suite_environment_is_left_as_it_was():
    assert "_BOUNCER_METRICS_DIR_CREATED" not in os.environ
