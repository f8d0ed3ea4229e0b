"""Two Bouncers on 127.0.0.1: one is the OpenID Connect provider of the other.

No provider is mocked: the *provider* Bouncer is a real OpenID Connect
provider (django-oauth-toolkit at ``/o/``, discovery, JWKS, its sign-in and
consent pages); the *relying* Bouncer is configured for it through the
environment exactly as an operator would configure any OpenID Connect
provider (``BOUNCER_SOCIAL_OIDC_*``), with a confidential client registered at
the provider by ``oauth_create_client``.

The client has two redirect URIs: the relying Bouncer's browser callback, and
``app_redirect_uri`` (not served by anyone) for the API flow of an SPA or
mobile app, which takes the code from the redirect itself and posts it to
``POST /api/auth/<provider id>/``.

Each server has a database of its own (the provider always SQLite; the
relying Bouncer PostgreSQL when ``DATABASE_URL`` is) and no Redis: two
databases behind one cache key prefix would read each other's cached rows.

Use the ``social_servers`` fixture (session-scoped: two gunicorn processes
for the whole run).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import ROOT, bouncer_server, free_port, server_database, server_env, server_prepare
from tests.e2e.oauth_support import answer_consent, consent_page, create_client

#: The provider's id at the relying Bouncer: /accounts/oidc/<id>/login/, POST /api/auth/<id>/.
PROVIDER_ID = "bouncer-idp"
PROVIDER_NAME = "Bouncer IdP"


@dataclass
class SocialServers:
    provider: str
    relying: str
    provider_env: dict
    relying_env: dict
    client_id: str
    client_secret: str
    app_redirect_uri: str
    provider_id: str = PROVIDER_ID

    @property
    def browser_callback(self) -> str:
        return f"{self.relying}/accounts/oidc/{self.provider_id}/login/callback/"

    def provider_user(self, username: str, password: str, *, email: str | None = None, verified: bool = False) -> None:
        """An account at the provider; ``verified`` marks its address verified (allauth's EmailAddress)."""
        _shell(self.provider_env, _USER_SCRIPT, username=username, password=password,
               email=email or f"{username}@example.com", verified=verified)

    def relying_user(self, username: str, password: str, *, email: str | None = None, verified: bool = False) -> None:
        """An account at the relying Bouncer (to test linking to an existing account)."""
        _shell(self.relying_env, _USER_SCRIPT, username=username, password=password,
               email=email or f"{username}@example.com", verified=verified)

    def provider_authorize(
        self, browser: requests.Session, *, username: str, password: str,
        scope: str = "openid profile email", nonce: str | None = None, allow: bool = True,
    ) -> tuple[dict, str]:
        """The app's side of the API flow at the provider: its sign-in and consent pages.

        Returns the query of the redirect to ``app_redirect_uri`` (``code``
        and ``state``, or ``error``) and the PKCE verifier.
        """
        client = OAuth2Session(self.client_id, redirect_uri=self.app_redirect_uri, scope=scope,
                               code_challenge_method="S256")
        verifier = generate_token(48)
        extra = {"nonce": nonce} if nonce else {}
        url, _state = client.create_authorization_url(f"{self.provider}/o/authorize/", code_verifier=verifier, **extra)
        page = consent_page(browser, self.provider, url, username=username, password=password)
        callback = answer_consent(browser, page, allow=allow).headers["Location"]
        assert callback.startswith(self.app_redirect_uri + "?"), callback
        return {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}, verifier

    def provider_tokens(self, query: dict, verifier: str) -> dict:
        """Redeem a code at the provider as the app would (the id_token flow: the app then
        posts only the id_token to the relying Bouncer)."""
        client = OAuth2Session(self.client_id, self.client_secret, redirect_uri=self.app_redirect_uri)
        return client.fetch_token(f"{self.provider}/o/token/", grant_type="authorization_code",
                                  code=query["code"], code_verifier=verifier)


_USER_SCRIPT = """
import json, os
from allauth.account.models import EmailAddress
from bouncer.users.models import User
args = json.loads(os.environ["SOCIAL_E2E_ARGS"])
user = User.objects.create_user(username=args["username"], email=args["email"], password=args["password"])
EmailAddress.objects.create(user=user, email=args["email"], primary=True, verified=args["verified"])
"""


def _shell(env: dict, script: str, **args) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env={**env, "SOCIAL_E2E_ARGS": json.dumps(args)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def social_servers(tmp_path_factory):
    # The authlib client at the provider speaks plain HTTP on 127.0.0.1.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    provider_dir: Path = tmp_path_factory.mktemp("social-provider")
    relying_dir: Path = tmp_path_factory.mktemp("social-relying")
    provider_env = server_env(db_url=f"sqlite:///{provider_dir / 'provider.sqlite3'}", local_dir=provider_dir, REDIS_URL="")
    server_prepare(provider_env)
    with bouncer_server(provider_env, log_name="provider.log") as provider, \
            server_database(os.environ.get("DATABASE_URL", ""), relying_dir) as relying_db:
        relying_port = free_port()
        relying = f"http://127.0.0.1:{relying_port}"
        app_redirect_uri = f"{relying}/app/callback"  # the app's own redirect: nobody serves it
        client_id, client_secret = create_client(
            provider_env, "Relying Bouncer", "--type", "confidential", "--grant", "authorization-code",
            "--redirect-uri", f"{relying}/accounts/oidc/{PROVIDER_ID}/login/callback/", "--redirect-uri", app_redirect_uri,
        )
        relying_env = server_env(
            db_url=relying_db, local_dir=relying_dir, REDIS_URL="",
            BOUNCER_SOCIAL_OIDC_URL=f"{provider}/o",
            BOUNCER_SOCIAL_OIDC_ID=PROVIDER_ID,
            BOUNCER_SOCIAL_OIDC_NAME=PROVIDER_NAME,
            BOUNCER_SOCIAL_OIDC_CLIENT_ID=client_id,
            BOUNCER_SOCIAL_OIDC_SECRET=client_secret,
        )
        server_prepare(relying_env)
        with bouncer_server(relying_env, log_name="relying.log", port=relying_port) as relying_url:
            yield SocialServers(
                provider=provider, relying=relying_url, provider_env=provider_env, relying_env=relying_env,
                client_id=client_id, client_secret=client_secret, app_redirect_uri=app_redirect_uri,
            )


def unique_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


__all__ = ["PROVIDER_ID", "PROVIDER_NAME", "SocialServers", "social_servers", "unique_name", "urljoin"]
