"""A tiny HTTP client for setting scenarios up (logins, tokens) and checking them.

The load itself comes from wrk; this only makes the few requests a scenario
needs before it runs, with the standard library, and only to 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Callable
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


@dataclass(eq=False)
class TokenChain:
    """Single-use tokens for a request that spends one and answers the next (refresh rotation).

    wrk (``wrk/request.lua``) keeps a queue per thread: each request takes a
    token from it, each 200 answer puts the token it carries back, so every
    token is sent exactly once and every sign-in (token family) has at most
    one request in flight. The tokens left when wrk stops come back here for
    the next run; a request still in flight then is lost with its sign-in,
    and ``refill`` (a new sign-in) makes up for it before the next run.
    """

    #: The JSON field that carries the token, in the request body and in the answer.
    field: str
    #: Returns a fresh token (one new sign-in).
    refill: Callable[[], str]
    tokens: list[str] = field(default_factory=list)
    #: Sign-ins made by ``refill`` (the first ones included).
    refills: int = 0

    def top_up(self, count: int) -> int:
        """Make sure at least ``count`` unused tokens are ready; returns how many were added."""
        added = 0
        while len(self.tokens) < count:
            self.tokens.append(self.refill())
            self.refills += 1
            added += 1
        return added

    def body(self, token: str) -> str:
        return json.dumps({self.field: token}, separators=(",", ":"))


@dataclass(eq=False)
class BodyPool:
    """Single-use request bodies made anew for every run: each is sent once, and the answers give none back.

    For a request that spends something no answer replaces (a sign-in's
    second step: an ``mfa_token`` and a TOTP code never used before).
    ``fill(size)`` makes the material for ``size`` bodies; ``run.py`` calls it
    before waiting for the servers to be idle, so its cost is never charged
    to a measured run. ``render(items)`` turns it into the bodies right
    before wrk starts (a TOTP code must be of the current time step, and may
    wait for the next one). wrk (``wrk/request.lua``) deals them out to its
    threads; when a thread runs out it sends ``{}``, answered 400: an error,
    so a pool too small for the run shows. ``size`` grows after a run that
    used most of it.
    """

    fill: Callable[[int], list[Any]]
    render: Callable[[list[Any]], list[str]]
    size: int
    items: list[Any] = field(default_factory=list)

    def top_up(self) -> int:
        """Make the items for the next run (once per run); returns how many were made."""
        if self.items:
            return 0
        self.items = self.fill(self.size)
        return len(self.items)

    def take(self) -> list[str]:
        """Every body of the items made (they are spent: the next run makes new ones)."""
        self.top_up()
        items, self.items = self.items, []
        return self.render(items)

    def used(self, given: int, left: int) -> None:
        """After a run: grow the pool when the run came within a third of its end."""
        if left < given / 3:
            self.size = max(self.size, 2 * (given - left))


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
    #: Set when each request spends a single-use token from the body (``body`` is then ignored).
    chain: TokenChain | None = field(default=None, compare=False)
    #: Set when each request sends a single-use body of its own (``body`` is then ignored).
    pool: BodyPool | None = field(default=None, compare=False)


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
    """Talks to one server on 127.0.0.1; ``setup`` holds what the server's setup printed.

    ``manage`` runs ``manage.py`` with the server's environment (its database
    and Redis), for a scenario that prepares rows in bulk (``BodyPool.fill``).
    """

    def __init__(self, *, port: int, setup: dict[str, Any], manage: Callable[..., str] | None = None) -> None:
        self.port = port
        self.setup = setup
        self.base_url = f"http://{LOOPBACK}:{port}"
        self.manage = manage

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
        """Send ``request`` once; raise unless it gets the expected status and body.

        A chained request spends one of its tokens and keeps the one answered; a
        pooled one sends the first body of a new pool (the rest are dropped).
        """
        chain = request.chain
        if chain is not None:
            chain.top_up(1)
            request = dataclasses.replace(request, body=chain.body(chain.tokens.pop(0)), chain=None)
        if request.pool is not None:
            request = dataclasses.replace(request, body=request.pool.take()[0], pool=None)
        response = self.send(request)
        if response.status != request.expect_status or request.expect_body.encode() not in response.body:
            raise RuntimeError(
                f"{request.method} {request.path} answered {response.status} "
                f"(expected {request.expect_status}): {response.body[:300]!r}"
            )
        if chain is not None:
            chain.tokens.append(response.json()[chain.field])
        return response
