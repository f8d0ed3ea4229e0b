"""gunicorn.conf.py as gunicorn loads it, for several nodes: the control socket and the several-workers warning."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.app.base import Application

ROOT = Path(__file__).resolve().parents[2]


class ConfigOnly(Application):
    """gunicorn's own loading of a config file, without the command line."""

    def load_config(self):
        self.load_config_from_file(str(ROOT / "gunicorn.conf.py"))

    def load(self):
        raise AssertionError("not served")


def loaded(monkeypatch, **env) -> Application:
    for name in ("BOUNCER_CONTROL_SOCKET", "BOUNCER_ENV", "REDIS_URL", "BOUNCER_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ConfigOnly()


def test_the_control_socket_is_off_by_default(monkeypatch):
    # gunicorn's own default is one path per user, shared by every node on the machine.
    assert loaded(monkeypatch).cfg.control_socket_disable is True


def test_a_node_given_a_control_socket_path_opens_it_there(monkeypatch, tmp_path):
    cfg = loaded(monkeypatch, BOUNCER_CONTROL_SOCKET=str(tmp_path / "node-a.ctl")).cfg
    assert cfg.control_socket_disable is False
    assert cfg.control_socket == str(tmp_path / "node-a.ctl")


class Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message, *args) -> None:
        self.warnings.append(message % args)


@pytest.mark.parametrize(
    "env, workers, warned",
    [
        ({"BOUNCER_ENV": "production"}, 4, True),
        ({"BOUNCER_ENV": "production", "REDIS_URL": "redis://127.0.0.1:6379/0"}, 4, False),
        ({"BOUNCER_ENV": "production"}, 1, False),
        ({}, 4, False),  # development: one machine, nothing to defend
    ],
)
def test_several_production_workers_without_redis_are_warned_about(monkeypatch, tmp_path, env, workers, warned):
    # on_starting also prepares the metrics directory: a given one, so nothing leaks into os.environ.
    cfg = loaded(monkeypatch, BOUNCER_WORKERS=str(workers), PROMETHEUS_MULTIPROC_DIR=str(tmp_path), **env).cfg
    log = Log()
    cfg.on_starting(SimpleNamespace(cfg=cfg, log=log))
    assert bool(log.warnings) is warned
    if warned:
        assert "REDIS_URL" in log.warnings[0] and "per process" in log.warnings[0]
