"""Bouncer's one glue point to django-oauth-toolkit: its ``OAuth2Validator``.

Each override is a documented public hook of the validator (oauthlib's
``RequestValidator`` interface). What is changed, and why:

- claims by scope for OpenID Connect (``openid`` → ``sub``; ``profile``;
  ``email``), and ``openid`` only for applications that sign id_tokens RS256;
- id_tokens say how the user signed in (``amr``, ``acr``): the amr of the
  browser session that authorized travels with the code
  (``save_authorization_code``, ``validate_code``) and then with the
  refresh-token family the code started (``models.AuthorizationAmr``);
- only the ``code`` response type, and nothing at all for applications
  registered for the implicit or hybrid flows;
- client authentication remembers verified secrets per process
  (``clientauth.py``) and audits failures;
- the password grant signs in through the sign-in flow (``users/signin.py``:
  per-account throttle, lockout, the same failure for every cause, audit),
  like every other sign-in; a refusal answers 429 ``rate_limited``;
- a redeemed authorization code is recorded in the transaction that deletes
  its grant, so a replay revokes what it issued; an exchange that loses the
  race for its code after ``validate_code`` is such a replay, not a 500;
- Bearer tokens are accepted from the ``Authorization`` header only;
- revocations and refresh-token reuse are audited;
- a refresh token is rotated at most once, by a conditional UPDATE the
  database decides (``grace.py``); a replay within the grace period gets the
  very pair that rotation issued, from an encrypted cache entry only that
  token opens, never blank and never a new pair; any other replay revokes
  the family.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from oauth2_provider.models import AbstractApplication, get_grant_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from bouncer.core import assurance, metrics
from bouncer.core.credentials import credential_issue_guard
from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import InvalidCredentials
from bouncer.oauth import services
from bouncer.oauth.clientauth import client_secret_known, client_secret_remember
from bouncer.oauth.grace import (
    GraceAnswer,
    grace_answer_recall,
    grace_answer_remember,
    refresh_token_claim,
    refresh_token_in_grace,
)
from bouncer.users.email.selectors import email_address_verified
from bouncer.users.signin import AccountLocked, EmailUnverified, SignInIncomplete, SignInThrottled

PASSWORD_GRANT_MFA = (
    "This account signs in with a second factor, which the password grant cannot carry. "
    "Use the authorization code flow."
)
PASSWORD_GRANT_MFA_ENROL = (
    "This account must have a second factor, and the password grant cannot carry one. "
    "Sign in another way to enrol one, then use the authorization code flow."
)

#: Applications registered for these never get anything (tokens in URLs).
REFUSED_GRANT_TYPES = (AbstractApplication.GRANT_IMPLICIT, AbstractApplication.GRANT_OPENID_HYBRID)


class InvalidGrant(errors.InvalidGrantError):
    """``invalid_grant`` raised while saving tokens, past the oauthlib handler
    that gives token responses their headers: it carries them itself."""

    @property
    def headers(self):
        return {**super().headers, "Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}


class RateLimited(errors.OAuth2Error):
    """429 for a password grant the sign-in flow refused (throttled or locked account).

    Raised from ``validate_user``; oauthlib's password grant answers any
    ``OAuth2Error`` it catches there with the error's own status and headers.
    """

    error = "rate_limited"
    status_code = 429

    def __init__(self, wait: int, request=None) -> None:
        super().__init__(description=f"Too many requests. Retry in {wait} seconds.", request=request)
        self.wait = wait

    @property
    def headers(self):
        return {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache", "Retry-After": str(self.wait)}


#: The toolkit's ``token_checksum`` (and our code digests): one SHA-256 helper for all.
checksum = sha256_hex


class BouncerOAuth2Validator(OAuth2Validator):
    oidc_claim_scope = {
        "sub": "openid",
        "name": "profile",
        "given_name": "profile",
        "family_name": "profile",
        "preferred_username": "profile",
        "email": "email",
        "email_verified": "email",
    }

    # --- OpenID Connect claims -------------------------------------------------

    def get_additional_claims(self):
        # Request-agnostic form (callables of the request): the toolkit then
        # also lists these claims in the discovery document.
        return {
            "name": lambda request: request.user.get_full_name(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "preferred_username": lambda request: request.user.get_username(),
            "email": lambda request: request.user.email,
            # Bouncer vouches only for an address it confirmed (allauth's
            # EmailAddress.verified for user.email), never for one typed in.
            "email_verified": lambda request: email_address_verified(user=request.user),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        # ``amr`` and ``acr`` here and not in get_additional_claims: they describe
        # the authentication event, so they are ID Token claims (OpenID Connect
        # Core 2); get_oidc_claims also answers /o/userinfo/, which describes the user.
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        amr = _authorization_amr(request)
        claims.update(amr=list(amr), acr=assurance.acr_for(amr))
        return claims, expiration_time

    def get_discovery_claims(self, request):
        return [*super().get_discovery_claims(request), "amr", "acr"]

    # --- authorization codes carry how the user signed in ------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        # ``bouncer_amr``: the authorizing session's, put in the credentials by views.AuthorizationView.
        services.oauth_authorization_amr_remember(code_digest=checksum(code["code"]), amr=_set_here(request, "bouncer_amr"))

    # --- what a client may ask for ----------------------------------------------

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        if client.authorization_grant_type in REFUSED_GRANT_TYPES or response_type != "code":
            return False
        return super().validate_response_type(client_id, response_type, client, request, *args, **kwargs)

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if request.client is None or request.client.authorization_grant_type in REFUSED_GRANT_TYPES:
            return False
        if grant_type == "password":
            # Decided once in settings (W002 acknowledged there); the toolkit
            # would otherwise log an RFC 9700 warning on every password request.
            return request.client.allows_grant_type(AbstractApplication.GRANT_PASSWORD)
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        # id_tokens are RS256 only: an application without the algorithm set
        # (or HS256, which needs a plaintext secret) cannot ask for openid.
        if "openid" in scopes and getattr(client, "algorithm", None) != AbstractApplication.RS256_ALGORITHM:
            return False
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    # --- client authentication ---------------------------------------------------

    def authenticate_client(self, request, *args, **kwargs):
        presented = _presented_client_credentials(request)
        if presented is not None:
            client_id, secret = presented
            if (
                self.validate_client_id(client_id, request)
                and request.client.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
                and client_secret_known(client_id=client_id, secret=secret, stored_hash=request.client.client_secret)
            ):
                return True
        if super().authenticate_client(request, *args, **kwargs):
            if (
                presented is not None
                and request.client is not None
                and request.client.client_id == presented[0]
                and request.client.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
            ):
                client_secret_remember(client_id=presented[0], secret=presented[1], stored_hash=request.client.client_secret)
            return True
        services.oauth_client_auth_failed(request=self.build_http_request(request), client_id=_claimed_client_id(request))
        return False

    # --- resource owner password grant -------------------------------------------

    def validate_user(self, username, password, client, request, *args, **kwargs):
        http_request = self.build_http_request(request)
        try:
            user = services.oauth_password_authenticate(request=http_request, username=username, password=password)
        except InvalidCredentials:
            return False
        except SignInIncomplete as incomplete:
            # The password was right, but the password grant cannot carry a
            # second step (RFC 6749 has no place for one): say why, so the
            # client moves to the authorization code flow (docs/mfa.md).
            description = PASSWORD_GRANT_MFA_ENROL if "mfa_enrol" in incomplete.steps else PASSWORD_GRANT_MFA
            raise errors.InvalidGrantError(description=description, request=request) from None
        except (SignInThrottled, AccountLocked) as refusal:
            raise RateLimited(refusal.retry_after, request=request) from None
        except EmailUnverified as refusal:
            raise errors.InvalidGrantError(description=refusal.default_detail, request=request) from None
        request.user = user
        return True

    # --- authorization codes: single use, replay revokes ---------------------------

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            request.bouncer_amr = services.oauth_authorization_amr_of_code(code_digest=checksum(code))
            return True
        services.oauth_code_replay_revoke(request=self.build_http_request(request), client=client, code_digest=checksum(code))
        return False

    # After ``validate_code`` accepted the code, oauthlib asks for its PKCE
    # challenge, method and redirect URI; the toolkit reads each with
    # ``Grant.objects.get``. A concurrent exchange of the same code (two tabs, or
    # an attacker racing the client) deletes the grant in between, and the
    # toolkit's ``DoesNotExist`` became a 500. That request is a replay: it is
    # answered like one, ``invalid_grant``, and revokes what the code issued.

    def get_code_challenge(self, code, request):
        return self._while_the_code_is_unredeemed(super().get_code_challenge, code, request, code, request)

    def get_code_challenge_method(self, code, request):
        return self._while_the_code_is_unredeemed(super().get_code_challenge_method, code, request, code, request)

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        return self._while_the_code_is_unredeemed(
            super().confirm_redirect_uri, code, request, client_id, code, redirect_uri, client, request, *args, **kwargs
        )

    def _while_the_code_is_unredeemed(self, read, code, request, *args, **kwargs):
        try:
            return read(*args, **kwargs)
        except get_grant_model().DoesNotExist:
            services.oauth_code_replay_revoke(
                request=self.build_http_request(request), client=request.client, code_digest=checksum(code)
            )
            raise errors.InvalidGrantError(description="Authorization code already used.", request=request) from None

    def save_bearer_token(self, token, request, *args, **kwargs):
        try:
            result = super().save_bearer_token(token, request, *args, **kwargs)
        except InvalidGrant:
            reused = _set_here(request, "bouncer_refresh_reused")
            if reused is not None:
                # Decided in the toolkit's transaction (_save_bearer_token), done
                # after its rollback, so the revocation sticks. The toolkit's own
                # set-based family revocation: refresh tokens revoked, access deleted.
                services.oauth_refresh_family_revoke(token_family=reused.token_family)
                services.oauth_refresh_reuse_record(
                    request=self.build_http_request(request), client=request.client, token_checksum=reused.token_checksum
                )
            raise
        # Kept for invalidate_authorization_code, which oauthlib calls next.
        request.bouncer_issued = (token.get("access_token", ""), token.get("refresh_token", ""))
        return result

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        access, refresh = _set_here(request, "bouncer_issued", ("", ""))
        redeemed = services.oauth_code_redeem(
            client=request.client,
            code=code,
            code_digest=checksum(code),
            access_token_checksum=checksum(access) if access else "",
            refresh_token_checksum=checksum(refresh) if refresh else "",
        )
        if not redeemed:
            # A concurrent request redeemed it first: this one is a replay.
            services.oauth_code_replay_revoke(
                request=self.build_http_request(request), client=request.client, code_digest=checksum(code),
                also_checksums=[checksum(access) if access else "", checksum(refresh) if refresh else ""],
            )
            raise InvalidGrant(request=request)

    # --- refresh tokens: audit reuse ------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return True
        reused = services.oauth_refresh_reuse_record(
            request=self.build_http_request(request), client=client, token_checksum=checksum(refresh_token)
        )
        if not reused:  # a replay is counted with its audit row (token_reuse_detected)
            metrics.refresh_rejected("oauth2")
        return False

    # --- refresh tokens: the grace period under hashed storage ----------------------

    def _save_bearer_token(self, token, request, *args, **kwargs):
        # The toolkit's documented hook for token storage, run inside its
        # transaction. Overridden rather than save_bearer_token so the claim
        # below, the rotation and a refusal share one transaction: a refusal
        # rolls back whatever the toolkit wrote.
        if request.grant_type == "password":
            try:
                credential_issue_guard(user=request.user)
            except InvalidCredentials:
                raise InvalidGrant(request=request) from None
        presented_row = _set_here(request, "refresh_token_instance")
        rotating = request.grant_type == "refresh_token" and "refresh_token" in token and presented_row is not None
        # One refresh token, one successor, decided by the database: the
        # conditional UPDATE lets exactly one concurrent request take it
        # (PostgreSQL re-checks ``revoked`` after the row lock; SQLite's
        # IMMEDIATE transactions serialize). The toolkit's own lock does not
        # suffice: a concurrent reuse revocation deletes the winner's access
        # token, and a loser that validated the token earlier then mints a
        # second, independent pair that the revocation never saw.
        replay = rotating and not refresh_token_claim(refresh_token=presented_row)
        if replay and not refresh_token_in_grace(
            refresh_token=presented_row, seconds=oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
        ):
            request.bouncer_refresh_reused = presented_row  # revoked by save_bearer_token, after the rollback
            raise InvalidGrant(description="Refresh token already used.", request=request)
        try:
            super()._save_bearer_token(token, request, *args, **kwargs)
        except get_refresh_token_model().DoesNotExist:
            # A loser within the grace whose authorization was revoked (its rows
            # deleted: sign out everywhere, a password change) after the check
            # above, before the toolkit read the row again: there is nothing to answer.
            raise InvalidGrant(description="Refresh token revoked.", request=request) from None
        if not rotating:
            return
        presented = request.refresh_token
        if token.get("access_token") and token["refresh_token"]:
            if token["refresh_token"] == presented:
                return  # not rotated (ROTATE_REFRESH_TOKEN off)
            if replay:
                # The toolkit found no pair issued for this token (its family was
                # revoked meanwhile) and minted a new one: that would fork the family.
                raise InvalidGrant(description="Refresh token already used.", request=request)
            # The one rotation: keep its answer, openable by the presented token only.
            answer = GraceAnswer(access_token=token["access_token"], refresh_token=token["refresh_token"], scope=token["scope"])
            grace_answer_remember(
                refresh_token=presented, answer=answer, seconds=oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
            )
            return
        # The toolkit's grace branch: it found the pair issued for this refresh
        # token but, storing hashes only, answered blanks. Give that very pair
        # back if it is in the cache and still the live pair; refuse otherwise,
        # never answering blanks (the family stays alive: this is not reuse).
        answer = grace_answer_recall(refresh_token=presented)
        if answer is None or not _pair_is_live(answer):
            raise InvalidGrant(description="Refresh token already used.", request=request)
        token.update(access_token=answer.access_token, refresh_token=answer.refresh_token, scope=answer.scope)

    # --- protected resources: the header only ---------------------------------------

    def validate_bearer_token(self, token, scopes, request):
        # RFC 6750 also allows the query string and the form body; both leak
        # into logs and caches. DOT's transport gate covers the query string only.
        header = request.headers.get("Authorization", "") or request.headers.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer" or parts[1] != token:
            return False
        return super().validate_bearer_token(token, scopes, request)

    # --- revocation -------------------------------------------------------------------

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        found, owner = services.oauth_token_owner(client=request.client, token_checksum=checksum(token))
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        services.oauth_refresh_token_family_revoke(client=request.client, token_checksum=checksum(token))
        if found:
            services.oauth_token_revoked_record(request=self.build_http_request(request), client=request.client, user=owner)


def _set_here(request, name: str, default=None):
    """An attribute set on oauthlib's request by this code or the toolkit, never a parameter the client sent.

    oauthlib's ``Request`` answers an attribute it lacks from the request's
    query and body parameters (``Request.__getattr__``): ``getattr(request,
    "bouncer_amr", None)`` would read a ``bouncer_amr`` the client posted.
    """
    return vars(request).get(name, default)


def _authorization_amr(request) -> tuple[str, ...]:
    """How the user signed in, for an id_token: the code's amr (its exchange), else its family's (a refresh).

    The password grant proves a password only (a user with a factor is
    refused there): ``pwd``, as for anything else without a record.
    """
    amr = _set_here(request, "bouncer_amr")
    if amr is not None:
        return assurance.amr_or_password(amr)
    presented = _set_here(request, "refresh_token_instance")
    if request.grant_type == "refresh_token" and presented is not None:
        return services.oauth_authorization_amr_of_family(token_family=presented.token_family)
    return assurance.amr_or_password(None)


def _pair_is_live(answer: GraceAnswer) -> bool:
    """The remembered refresh token is unrevoked and still bound to the remembered access token."""
    return (
        get_refresh_token_model()
        .objects.filter(
            token_checksum=checksum(answer.refresh_token),
            revoked__isnull=True,
            access_token__token_checksum=checksum(answer.access_token),
        )
        .exists()
    )


def _presented_client_credentials(request) -> tuple[str, str] | None:
    """(client_id, secret) from exactly one source, as the toolkit reads them.

    Basic first, else the body. When both are present nothing is returned:
    the toolkit may then verify one and we must not remember the other.
    """
    basic = None
    header = request.headers.get("HTTP_AUTHORIZATION", "")
    kind, _, value = header.partition(" ")
    if kind == "Basic" and value:
        try:
            client_id, secret = map(unquote_plus, base64.b64decode(value).decode("utf-8").split(":", 1))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        basic = (client_id, secret)
    body_secret = getattr(request, "client_secret", None) or ""
    if basic is not None:
        return None if body_secret else (basic if basic[1] else None)
    client_id = getattr(request, "client_id", None) or ""
    return (client_id, body_secret) if client_id and body_secret else None


def _claimed_client_id(request) -> str:
    presented = _presented_client_credentials(request)
    return (presented[0] if presented else getattr(request, "client_id", None) or "")[:100]
