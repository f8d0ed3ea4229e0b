"""Recorded provider answers, played back at the requests level (``responses``).

``google.json``, ``github.json`` and ``facebook.json`` hold the providers'
answers in the shapes the real endpoints give (status, content type, body),
errors included: GitHub's 200-with-an-error-body, Facebook's
``{"error": {message, type, code, fbtrace_id}}``, Google's ``invalid_grant``.
What a recording cannot hold is made per run in the same shape: id_tokens,
signed with a test RSA key whose public half Google's ``v1/certs`` (PEM
certificates by ``kid``) and an OpenID Connect provider's JWKS serve.

No network: a request to a URL nobody recorded fails the test
(``responses`` raises ``ConnectionError``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path

import jwt
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.utils import timezone

HERE = Path(__file__).parent

GOOGLE_CLIENT_ID = "1234567890-recorded.apps.googleusercontent.com"
GITHUB_CLIENT_ID = "Iv1.recorded0github"
FACEBOOK_CLIENT_ID = "1234567890123456"
OIDC_ID = "idp"
OIDC_CLIENT_ID = "bouncer-relying-party"
OIDC_ISSUER = "https://idp.example.test"
SECRET = "recorded-client-secret"
KID = "recorded-key-1"


def load(provider: str) -> dict:
    return json.loads((HERE / f"{provider}.json").read_text())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


#: The providers' signing key, and another one (an attacker's).
PROVIDER_KEY = _key()
OTHER_KEY = _key()


def public_pem(key=PROVIDER_KEY) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate_pem(key=PROVIDER_KEY) -> str:
    """A self-signed certificate of ``key``: Google's ``v1/certs`` lists its keys so."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


_CERT = certificate_pem()


def jwks(key=PROVIDER_KEY, kid: str = KID) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


def id_token(claims: dict, *, key=PROVIDER_KEY, alg: str = "RS256", kid: str | None = KID, headers: dict | None = None) -> str:
    header = dict(headers or {})
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(claims, key, algorithm=alg, headers=header)


def google_claims(**overrides) -> dict:
    """Claims of a Google id_token (the recorded shape), issued now, valid for an hour."""
    now = int(timezone.now().timestamp())
    claims = {k: v for k, v in load("google")["id_token_claims"].items()}
    claims.update(iat=now, exp=now + 3600, jti=uuid.uuid4().hex, nonce="n-0S6_WzA2Mj")
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def oidc_claims(**overrides) -> dict:
    now = int(timezone.now().timestamp())
    claims = {
        "iss": OIDC_ISSUER, "aud": OIDC_CLIENT_ID, "sub": "7", "iat": now, "exp": now + 300, "auth_time": now,
        "jti": uuid.uuid4().hex, "nonce": "n-0S6_WzA2Mj", "email": "linus@example.net", "email_verified": True,
        "preferred_username": "linus", "given_name": "Linus", "family_name": "T",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def oidc_discovery() -> dict:
    return {
        "issuer": OIDC_ISSUER,
        "authorization_endpoint": f"{OIDC_ISSUER}/o/authorize/",
        "token_endpoint": f"{OIDC_ISSUER}/o/token/",
        "userinfo_endpoint": f"{OIDC_ISSUER}/o/userinfo/",
        "jwks_uri": f"{OIDC_ISSUER}/o/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }


def provider_settings() -> dict:
    """SOCIALACCOUNT_PROVIDERS with one app of each kind, for ``override_settings``."""
    from django.conf import settings

    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["google"]["APPS"] = [{"client_id": GOOGLE_CLIENT_ID, "secret": SECRET, "key": ""}]
    providers["github"]["APPS"] = [{"client_id": GITHUB_CLIENT_ID, "secret": SECRET, "key": ""}]
    providers["facebook"]["APPS"] = [{"client_id": FACEBOOK_CLIENT_ID, "secret": SECRET, "key": ""}]
    providers["openid_connect"]["APPS"] = [{
        "provider_id": OIDC_ID, "name": "Example IdP", "client_id": OIDC_CLIENT_ID, "secret": SECRET, "key": "",
        "settings": {"server_url": OIDC_ISSUER, "oauth_pkce_enabled": True},
    }]
    return providers


class Recorded:
    """Plays recorded answers: ``play("github", "token")``, with a body changed where a test needs it."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock

    def play(self, provider: str, name: str, *, body=None, status: int | None = None, url: str | None = None):
        entry = load(provider)[name]
        kwargs = {"status": status or entry["status"], "content_type": entry["content_type"]}
        if "text" in entry and body is None:
            kwargs["body"] = entry["text"]
        else:
            kwargs["json"] = entry["body"] if body is None else body
        return self.mock.add(getattr(responses, entry["method"]), url or entry["url"], **kwargs)

    def body(self, provider: str, name: str):
        return copy.deepcopy(load(provider)[name]["body"])

    # --- what a test usually needs in one call ---

    def google_certs(self, key=PROVIDER_KEY, kid: str = KID):
        return self.play("google", "certs", body={kid: certificate_pem(key) if key is not PROVIDER_KEY else _CERT})

    def oidc(self, key=PROVIDER_KEY, kid: str = KID):
        self.mock.add(responses.GET, f"{OIDC_ISSUER}/.well-known/openid-configuration", json=oidc_discovery())
        self.mock.add(responses.GET, f"{OIDC_ISSUER}/o/.well-known/jwks.json", json=jwks(key, kid))

    def github_code(self):
        self.play("github", "token")
        self.play("github", "user")
        self.play("github", "emails")

    def facebook_token(self):
        self.play("facebook", "app_token")
        self.play("facebook", "debug_token")
        self.play("facebook", "me")

    def requests_to(self, url_start: str) -> list:
        return [call.request for call in self.mock.calls if call.request.url.startswith(url_start)]
