"""Helpers of the OAuth2 end-to-end tests: the management command, HTML forms, authlib over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def authlib_over_http():
    """The test server speaks plain HTTP on 127.0.0.1; authlib insists on HTTPS otherwise."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        yield


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_client(env: dict, name: str, *args: str) -> tuple[str, str | None]:
    """``oauth_create_client``: the client id and the secret it prints once."""
    out = manage(env, "oauth_create_client", name, *args)
    values = dict(re.findall(r"^(client_id|client_secret)=(\S+)$", out, re.M))
    return values["client_id"], values.get("client_secret")


class Forms(HTMLParser):
    """The forms of a page: action, id, and every input and button."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": attrs.get("id", ""), "action": attrs.get("action", ""), "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(attrs)
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(attrs)

    def find(self, *, id: str = "", field: str = "") -> dict:
        for form in self.forms:
            if (id and form["id"] == id) or (field and any(i.get("name") == field for i in form["inputs"])):
                return form
        raise AssertionError(f"no form with id={id!r} field={field!r}")


def hidden_fields(form: dict) -> dict:
    return {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden" and i.get("name")}
