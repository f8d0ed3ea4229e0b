"""The browser flow in-process: Django's test client plays the browser, ``responses``
answers allauth's calls to the provider with GitHub's recorded answers.

``start(client, ...)`` POSTs the provider button (as the sign-in page does)
and returns the ``state`` allauth put in the redirect to the provider;
``callback(client, state, ...)`` is the provider sending the browser back.
Every HTTP call allauth makes is recorded by ``responses``: a test can check
that a refused callback never reached the provider.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import responses
from allauth.socialaccount.models import SocialApp

GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"
GITHUB_USER_URL = "https://api.github.com/user"
GITHUB_EMAILS_URL = "https://api.github.com/user/emails"

#: GitHub's answers as recorded from api.github.com (ids and names changed).
GITHUB_TOKEN = {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "token_type": "bearer", "scope": "read:user,user:email"}
GITHUB_USER = {
    "login": "octo-cat",
    "id": 583231,
    "node_id": "MDQ6VXNlcjU4MzIzMQ==",
    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
    "html_url": "https://github.com/octo-cat",
    "type": "User",
    "site_admin": False,
    "name": "The Octocat",
    "company": "@github",
    "blog": "https://github.blog",
    "location": "San Francisco",
    "email": None,
    "hireable": None,
    "bio": None,
    "public_repos": 8,
    "followers": 9,
    "following": 9,
    "created_at": "2011-01-25T18:44:36Z",
    "updated_at": "2024-01-22T12:12:00Z",
}
GITHUB_EMAILS = [
    {"email": "octocat@example.org", "primary": True, "verified": True, "visibility": "private"},
    {"email": "583231+octo-cat@users.noreply.github.com", "primary": False, "verified": True, "visibility": None},
]
#: What GitHub answers (status 200) for a code that is wrong, used or expired.
GITHUB_BAD_CODE = {
    "error": "bad_verification_code",
    "error_description": "The code passed is incorrect or expired.",
    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
}


def github_app() -> SocialApp:
    return SocialApp.objects.create(provider="github", name="GitHub", client_id="Iv1.8a61f9b3a7aba766", secret="gh-secret-1e2f")


def github_user(**changes) -> dict:
    user = copy.deepcopy(GITHUB_USER)
    user.update(changes)
    return user


class Recorded:
    """The ``responses`` mock, and the calls it saw (kept after the block ends, which clears the mock's own)."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.urls: list[str] = []

    def replace(self, *args, **kwargs) -> None:
        self.mock.replace(*args, **kwargs)

    def keep(self) -> None:
        self.urls = [call.request.url.split("?")[0] for call in self.mock.calls]


@contextmanager
def github(*, user: dict | None = None, emails: list | None = None, token: dict | None = None):
    """GitHub's three endpoints answered with recorded bodies; yields the calls made (``Recorded``)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(GITHUB_TOKEN_URL, json=GITHUB_TOKEN if token is None else token)
        mock.get(GITHUB_USER_URL, json=GITHUB_USER if user is None else user)
        mock.get(GITHUB_EMAILS_URL, json=GITHUB_EMAILS if emails is None else emails)
        recorded = Recorded(mock)
        try:
            yield recorded
        finally:
            recorded.keep()


def start(client, provider: str = "github", *, next_url: str | None = None, process: str | None = None) -> str:
    """Press the provider's button; returns the ``state`` sent to the provider."""
    data = {"next": next_url} if next_url else {}
    url = f"/accounts/{provider}/login/" + (f"?process={process}" if process else "")
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query.get("code_challenge_method") == ["S256"]  # PKCE
    return query["state"][0]


def callback(client, state: str | None, provider: str = "github", **params):
    query = {"code": "a4c1f19ee0ab5b1e7f4b", **params}
    if state is not None:
        query["state"] = state
    return client.get(f"/accounts/{provider}/login/callback/", query)


def provider_calls(recorded: Recorded, url: str) -> int:
    """How often ``url`` was called inside the ``github()`` block (read after it ends)."""
    return recorded.urls.count(url)
