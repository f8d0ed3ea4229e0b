"""Helpers of the page tests: Django's test client as the browser, reading what a page gives a person."""

from __future__ import annotations

import json
import re
from html import unescape

from django.contrib.auth import SESSION_KEY
from django.test import Client

from bouncer.multifactor.browser import PENDING_KEY
from bouncer.users.models import User
from tests.conftest import PASSWORD

#: The origin the software key signs for (the test server's host is not a WebAuthn origin;
#: development accepts http://localhost on any port, as the settings say).
ORIGIN = "http://localhost:8000"


def signed_in_user(client: Client) -> User | None:
    return User.objects.filter(pk=client.session.get(SESSION_KEY)).first()


def session_amr(client: Client) -> list[str] | None:
    return client.session.get("bouncer_amr")


def pending_token(client: Client) -> str | None:
    pending = client.session.get(PENDING_KEY)
    return pending["token"] if pending else None


def sign_in(client: Client, username: str = "alice", password: str = PASSWORD, *, next_url: str | None = None, path: str = "/accounts/login/"):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(path, data)


def json_script(html: str, element_id: str) -> dict:
    """What a ``<script type="application/json" id=...>`` of the page holds (Django's json_script)."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no JSON script #{element_id}"
    return json.loads(match.group(1))


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html) or re.search(
        rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html
    )
    assert match, f"no hidden field {name}"
    return unescape(match.group(1))


def totp_secret(html: str) -> str:
    match = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7]+)</code>', html)
    assert match, "no TOTP secret on the page"
    return match.group(1)


def text(response) -> str:
    return response.content.decode()
