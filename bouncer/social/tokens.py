"""What an SPA or a mobile app got from a provider, turned into allauth's ``SocialLogin``.

Three kinds of proof, exactly one per request (``POST /api/auth/<provider>/``):

- an authorization **code** with its ``redirect_uri`` and PKCE ``code_verifier``:
  exchanged at the provider's token endpoint with the app's client secret
  (allauth's ``OAuth2Client``), then allauth's ``complete_login``;
- an **access token** (Google, GitHub, Facebook): first proven to be issued to
  *our* app (Google's tokeninfo ``aud``, GitHub's "check a token" endpoint,
  Facebook's ``debug_token`` through allauth), because a provider's profile
  endpoint answers for a token of any app: without that check, any app a
  person ever signed in to could sign in to Bouncer as them;
- an OpenID Connect **id_token** (Google One Tap, mobile SDKs, any OIDC
  provider): allauth's ``verify_token`` checks the signature against the
  provider's keys, ``aud``, ``iss`` and ``exp``. Bouncer adds what allauth
  leaves out: the algorithm is an asymmetric one (no ``none``, no HMAC keyed
  with a public key), the ``nonce`` claim equals the body's ``nonce`` or its
  SHA-256 (hex), and each token is accepted once (its issuer, subject and
  nonce are kept (``SpentProof``, a unique column) until it expires; a code
  likewise, so a replay is refused before the provider is asked.

Errors are stable codes: ``social_code_invalid``, ``social_token_invalid``,
``social_nonce_mismatch``, ``social_token_replayed``,
``social_credential_unsupported`` (400), ``not_found`` (404, an unknown or
unconfigured provider) and ``social_provider_unavailable`` (502: the provider
did not answer or answered nonsense; the client may retry).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

import jwt
import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import DomainError
from bouncer.social.models import SpentProof

logger = logging.getLogger(__name__)

#: Provider classes Bouncer offers (config/settings/allauth.py); any other app is not found.
SUPPORTED_PROVIDERS = frozenset({"google", "github", "facebook", "openid_connect"})
#: Path segments of /api/auth/ that are never a provider's id (bouncer/social/urls.py).
RESERVED_IDS = frozenset({"social", "password", "registration", "mfa", "passkey", "user", "login", "logout", "token"})
#: id_token algorithms accepted: asymmetric only, so a public key can never be an HMAC secret.
ID_TOKEN_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
#: Providers whose access tokens Bouncer can prove were issued to its own app.
ACCESS_TOKEN_PROVIDERS = frozenset({"google", "github", "facebook"})
GOOGLE_TOKENINFO_URL = "https://oauth2.googleapis.com/tokeninfo"
#: How long a redeemed code is remembered (providers expire codes within minutes).
CODE_MEMORY_SECONDS = 600
#: The longest an id_token is remembered, whatever its ``exp`` says.
ID_TOKEN_MEMORY_MAX_SECONDS = 86400
#: How often (at most) expired ``SpentProof`` rows are deleted.
PURGE_INTERVAL_SECONDS = 3600
PURGE_LOCK_KEY = "social:spent:purge"


class SocialProviderNotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "No such sign-in provider."


class SocialCodeInvalid(DomainError):
    status_code = 400
    code = "social_code_invalid"
    default_detail = "The provider did not accept the authorization code (wrong, expired, already used, or another redirect_uri or code_verifier)."


class SocialTokenInvalid(DomainError):
    status_code = 400
    code = "social_token_invalid"
    default_detail = "The provider's token is not valid for this application."


class SocialNonceMismatch(DomainError):
    status_code = 400
    code = "social_nonce_mismatch"
    default_detail = "The id_token's nonce does not match the nonce sent."


class SocialTokenReplayed(DomainError):
    status_code = 400
    code = "social_token_replayed"
    default_detail = "This id_token was already used."


class SocialCredentialUnsupported(DomainError):
    status_code = 400
    code = "social_credential_unsupported"
    default_detail = "This provider does not accept this kind of credential here."


class SocialProviderUnavailable(DomainError):
    status_code = 502
    code = "social_provider_unavailable"
    default_detail = "The provider could not be reached or gave an unexpected answer. Try again."


@dataclass(frozen=True)
class ProviderCredential:
    """Exactly one of: ``code`` (+ ``redirect_uri``, ``code_verifier``), ``access_token``, ``id_token`` (+ ``nonce``)."""

    code: str = ""
    redirect_uri: str = ""
    code_verifier: str = ""
    access_token: str = ""
    id_token: str = ""
    nonce: str = ""

    @property
    def kind(self) -> str:
        return "code" if self.code else "access_token" if self.access_token else "id_token"


def social_provider_get(*, request: HttpRequest, provider_id: str):
    """The configured provider (with its app) Bouncer names ``provider_id``; 404 otherwise.

    ``provider_id`` is ``google``, ``github``, ``facebook`` or an OpenID
    Connect app's own id; the bare class name ``openid_connect`` is not one,
    nor is an app of a provider Bouncer does not offer, nor a reserved word.
    """
    if provider_id in RESERVED_IDS or not provider_id:
        raise SocialProviderNotFound()
    apps = []
    for app in get_adapter(request).list_apps(request):
        if app.provider not in SUPPORTED_PROVIDERS:
            continue
        name = app.provider_id if app.provider == "openid_connect" else (app.provider_id or app.provider)
        if name == provider_id:
            apps.append(app)
    visible = [app for app in apps if not (app.settings or {}).get("hidden")] if len(apps) > 1 else apps
    if len(visible) != 1:
        raise SocialProviderNotFound()
    return visible[0].get_provider(request)


def sociallogin_from_credential(*, request: HttpRequest, provider, credential: ProviderCredential) -> SocialLogin:
    """The provider's identity for ``credential``, looked up (``is_existing``) but not saved."""
    if credential.kind == "code":
        login = _from_code(request=request, provider=provider, credential=credential)
    elif credential.kind == "access_token":
        login = _from_access_token(request=request, provider=provider, token=credential.access_token)
    else:
        login = _from_id_token(request=request, provider=provider, id_token=credential.id_token, nonce=credential.nonce)
    if not login.account.uid:
        raise SocialProviderUnavailable()
    login.lookup()
    return login


# --- code -------------------------------------------------------------------------------------


def _from_code(*, request: HttpRequest, provider, credential: ProviderCredential) -> SocialLogin:
    # A code is redeemed once: a second presentation is refused here, before
    # the provider is asked, whatever the provider would say.
    key = sha256_hex(f"code\x00{provider.sub_id}\x00{credential.code}")
    if not proof_spend(digest=key, seconds=CODE_MEMORY_SECONDS):
        raise SocialCodeInvalid("This authorization code was already used.")
    app = provider.app
    adapter = provider.get_oauth2_adapter(request)
    try:
        client = adapter.get_client(request, app)
        # The redirect URI the client used at the provider: the provider
        # checks it against the app's registered ones and the code.
        client.callback_url = credential.redirect_uri
        if adapter.access_token_method == "GET":
            # allauth sends the verifier only in a POST body; Facebook's token
            # endpoint is a GET, so it goes in the query with the code.
            data = client.get_access_token(credential.code, extra_data={"code_verifier": credential.code_verifier})
        else:
            data = client.get_access_token(credential.code, pkce_code_verifier=credential.code_verifier)
        # Straight from the token endpoint over TLS: allauth may then skip the
        # id_token's signature check (OpenID Connect Core 3.1.3.7).
        adapter.did_fetch_access_token = True
        token = adapter.parse_token(data)
        token.app = app if app.pk else None
        login = adapter.complete_login(request, app, token, response=data)
        login.token = token
        return login
    except OAuth2Error as exc:
        logger.info("social code refused by %s: %s", provider.sub_id, str(exc)[:200])
        raise SocialCodeInvalid() from None
    except (requests.RequestException, KeyError, ValueError, TypeError) as exc:
        SpentProof.objects.filter(digest=key).delete()  # the provider never answered: the code may still be good
        raise _unavailable(provider, exc) from None


# --- access token -----------------------------------------------------------------------------


def _from_access_token(*, request: HttpRequest, provider, token: str) -> SocialLogin:
    if provider.id not in ACCESS_TOKEN_PROVIDERS:
        raise SocialCredentialUnsupported("Send an authorization code or an id_token for this provider.")
    try:
        if provider.id == "facebook":
            # allauth checks the token with debug_token (app id) and signs the
            # profile request with appsecret_proof.
            return provider.verify_token(request, {"access_token": token})
        if provider.id == "google":
            _google_token_check(provider=provider, token=token)
        else:
            _github_token_check(provider=provider, token=token)
        adapter = provider.get_oauth2_adapter(request)
        social_token = SocialToken(token=token)
        login = adapter.complete_login(request, provider.app, social_token, response={"access_token": token})
        login.token = social_token
        return login
    except ValidationError as exc:
        if isinstance(exc.__cause__, requests.RequestException) and not _client_error(exc.__cause__):
            raise _unavailable(provider, exc.__cause__) from None
        raise SocialTokenInvalid() from None
    except requests.HTTPError as exc:
        if _client_error(exc):
            raise SocialTokenInvalid() from None
        raise _unavailable(provider, exc) from None
    except OAuth2Error:
        raise SocialTokenInvalid() from None
    except (requests.RequestException, KeyError, ValueError, TypeError) as exc:
        raise _unavailable(provider, exc) from None


def _google_token_check(*, provider, token: str) -> None:
    """Google answers tokeninfo for any app's token: its ``aud`` must be our client id."""
    with get_adapter().get_requests_session() as session:
        response = session.get(GOOGLE_TOKENINFO_URL, params={"access_token": token})
    if response.status_code == 400:
        raise SocialTokenInvalid()  # {"error": "invalid_token", "error_description": "Invalid Value"}
    response.raise_for_status()
    info = response.json()
    if not hmac.compare_digest(str(info.get("aud", "")), provider.app.client_id):
        raise SocialTokenInvalid()


def _github_token_check(*, provider, token: str) -> None:
    """GitHub's "check a token" (``POST /applications/{client_id}/token``): 404 unless the token is our app's."""
    from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter

    app = provider.app
    with get_adapter().get_requests_session() as session:
        response = session.post(
            f"{GitHubOAuth2Adapter.api_url}/applications/{app.client_id}/token",
            json={"access_token": token},
            auth=(app.client_id, app.secret),
            headers={"Accept": "application/vnd.github+json"},
        )
    if response.status_code in (404, 422):
        raise SocialTokenInvalid()
    response.raise_for_status()
    info = response.json()
    if str((info.get("app") or {}).get("client_id", "")) != app.client_id:
        raise SocialTokenInvalid()


# --- id_token ---------------------------------------------------------------------------------


def _from_id_token(*, request: HttpRequest, provider, id_token: str, nonce: str) -> SocialLogin:
    if provider.id not in ("google", "openid_connect", "facebook"):
        raise SocialCredentialUnsupported("This provider has no id_token: send an authorization code or an access token.")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise SocialTokenInvalid() from None
    # allauth verifies with the algorithm the token's own header names:
    # pinned here to asymmetric ones (no "none", no HS256 keyed with the
    # provider's public key), and a kid is needed to pick the key.
    if header.get("alg") not in ID_TOKEN_ALGORITHMS or not isinstance(header.get("kid"), str) or not header["kid"]:
        raise SocialTokenInvalid()
    try:
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise SocialTokenInvalid() from None
    if not isinstance(unverified, dict):
        raise SocialTokenInvalid()
    if SpentProof.objects.filter(digest=_id_token_key(unverified), expires_at__gt=timezone.now()).exists():
        # Said before allauth is asked: its own jti memory would refuse the
        # replay too, but as an invalid token.
        raise SocialTokenReplayed()
    try:
        login = provider.verify_token(request, {"id_token": id_token})
    except ValidationError as exc:
        cause = exc.__cause__
        if isinstance(cause, requests.RequestException) and not _client_error(cause):
            raise _unavailable(provider, cause) from None
        raise SocialTokenInvalid() from None
    except (OAuth2Error, jwt.PyJWTError):
        raise SocialTokenInvalid() from None
    except requests.RequestException as exc:
        raise _unavailable(provider, exc) from None
    except (KeyError, ValueError, TypeError):
        raise SocialTokenInvalid() from None
    # Signature, aud, iss and exp were checked on this very string above.
    claims = jwt.decode(id_token, options={"verify_signature": False})
    _nonce_check(claims=claims, nonce=nonce)
    _id_token_spend(claims=claims)
    return login


def _nonce_check(*, claims: dict, nonce: str) -> None:
    """The token's ``nonce`` is the body's nonce, or its SHA-256 in hex (the raw value never left the app)."""
    claimed = claims.get("nonce")
    if not isinstance(claimed, str) or not claimed or not nonce:
        raise SocialNonceMismatch()
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    if not (hmac.compare_digest(claimed, nonce) or hmac.compare_digest(claimed, hashed)):
        raise SocialNonceMismatch()


def _id_token_spend(*, claims: dict) -> None:
    """Each id_token once: keyed by issuer, subject and nonce (not the token's bytes, which
    can be re-encoded without breaking the signature), remembered until it expires."""
    key = _id_token_key(claims)
    exp = claims.get("exp")
    remaining = int(exp - timezone.now().timestamp()) + 60 if isinstance(exp, int | float) else ID_TOKEN_MEMORY_MAX_SECONDS
    if not proof_spend(digest=key, seconds=max(60, min(remaining, ID_TOKEN_MEMORY_MAX_SECONDS))):
        raise SocialTokenReplayed()


def _id_token_key(claims: dict) -> str:
    return sha256_hex("id_token\x00" + "\x00".join(str(claims.get(name, "")) for name in ("iss", "aud", "sub", "nonce")))


def proof_spend(*, digest: str, seconds: int) -> bool:
    """Record a proof as used for ``seconds``; False when it already was (the unique column decides)."""
    now = timezone.now()
    if cache.add(PURGE_LOCK_KEY, 1, timeout=PURGE_INTERVAL_SECONDS):
        SpentProof.objects.filter(expires_at__lte=now).delete()
    # An expired row of the same proof is gone first: its proof expired with it.
    SpentProof.objects.filter(digest=digest, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            SpentProof.objects.create(digest=digest, expires_at=now + timedelta(seconds=seconds))
    except IntegrityError:
        return False
    return True


# --- helpers ----------------------------------------------------------------------------------


def _client_error(exc: requests.RequestException) -> bool:
    response = getattr(exc, "response", None)
    return response is not None and 400 <= response.status_code < 500


def _unavailable(provider, exc: Exception) -> SocialProviderUnavailable:
    logger.warning("social provider %s failed: %s", provider.sub_id, type(exc).__name__)
    return SocialProviderUnavailable()
