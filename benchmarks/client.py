"""A tiny HTTP client for setting scenarios up (logins, tokens) and checking them.

The load itself comes from wrk; this only makes the few requests a scenario
needs before it runs, with the standard library, and only to 127.0.0.1.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

LOOPBACK = "127.0.0.1"

# No proxy, whatever the environment says: the benchmark talks to this machine only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def cookie(self, name: str) -> str | None:
        for header, value in self.headers:
            if header.lower() == "set-cookie":
                jar = SimpleCookie()
                jar.load(value)
                if name in jar:
                    return jar[name].value
        return None


@dataclass(frozen=True)
class Request:
    """One request, as wrk will repeat it (also sent once by ``Client.send`` to check it)."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    #: The status every answer must have; anything else makes the run fail fast.
    expect_status: int = 200
    #: A substring the answer's body must contain (checked once, before the load).
    expect_body: str = ""


def json_post(path: str, data: dict[str, Any], *, expect_status: int = 200, expect_body: str = "") -> Request:
    return Request(
        path=path,
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps(data, separators=(",", ":")),
        expect_status=expect_status,
        expect_body=expect_body,
    )


class Client:
    """Talks to one server on 127.0.0.1; ``setup`` holds what the server's setup printed."""

    def __init__(self, *, port: int, setup: dict[str, Any]) -> None:
        self.port = port
        self.setup = setup
        self.base_url = f"http://{LOOPBACK}:{port}"

    def send(self, request: Request, *, timeout: float = 30.0) -> Response:
        raw = urllib.request.Request(
            self.base_url + request.path,
            data=request.body.encode("utf-8") if request.body else None,
            method=request.method,
            headers=request.headers,
        )
        try:
            with _OPENER.open(raw, timeout=timeout) as answer:
                return Response(answer.status, list(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, list(error.headers.items()), error.read())

    def check(self, request: Request) -> Response:
        """Send ``request`` once; raise unless it gets the expected status and body."""
        response = self.send(request)
        if response.status != request.expect_status or request.expect_body.encode() not in response.body:
            raise RuntimeError(
                f"{request.method} {request.path} answered {response.status} "
                f"(expected {request.expect_status}): {response.body[:300]!r}"
            )
        return response
