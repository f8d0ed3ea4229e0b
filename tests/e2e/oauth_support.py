"""Helpers of the OAuth2 end-to-end tests: the management command, HTML forms, authlib over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

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


# --- Bouncer's sign-in and consent pages, driven like a browser without JavaScript ---------


def sign_in_page(browser: requests.Session, login_url: str, *, username: str, password: str) -> requests.Response:
    """Fill in and post Bouncer's sign-in page; the response (not followed)."""
    page = browser.get(login_url, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    form = Forms(page.text).find(field="username")
    data = {**hidden_fields(form), "username": username, "password": password}
    return browser.post(urljoin(page.url, form["action"] or page.url), data=data, allow_redirects=False, timeout=10)


def consent_page(browser: requests.Session, base: str, authorize_url: str, *, username: str, password: str) -> requests.Response:
    """GET /o/authorize/..., signing in on the way when Bouncer asks; the consent page."""
    response = browser.get(authorize_url, allow_redirects=False, timeout=10)
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/accounts/login/":
        signed_in = sign_in_page(browser, urljoin(base, response.headers["Location"]), username=username, password=password)
        assert signed_in.status_code == 302, signed_in.text
        response = browser.get(urljoin(base, signed_in.headers["Location"]), allow_redirects=False, timeout=10)
    return response


def answer_consent(browser: requests.Session, page: requests.Response, *, allow: bool) -> requests.Response:
    assert page.status_code == 200, page.text
    form = Forms(page.text).find(id="authorizationForm")
    data = hidden_fields(form)
    if allow:
        button = next(b for b in form["buttons"] if b.get("name") == "allow")
        data["allow"] = button["value"]
    response = browser.post(urljoin(page.url, form["action"] or page.url), data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response
