"""The API ways in and the factors, for the second-step matrix and the attack tests.

A *way* is one first step a client can take (``first_step(api, way, user)``);
a *factor* is something the user answers the second step with
(``give_factor`` sets it up through the factor services, ``answer`` sends it).
What a credential is, per way, is counted by ``credential_rows``: a refusal
must leave every count unchanged.
"""

from __future__ import annotations

import json

import pyotp
from allauth.socialaccount.models import SocialAccount
from django.conf import settings

from bouncer.multifactor import webauthn
from bouncer.multifactor.recovery import recovery_codes_generate
from bouncer.tokens.jwt.models import JwtFamily
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import UserSession
from tests.conftest import PASSWORD
from tests.multifactor.conftest import with_totp
from tests.multifactor.softkey import SoftKey
from tests.social.recorded import google_claims, id_token

#: An origin the relying party accepts in the test settings (RP ID localhost, development).
ORIGIN = "http://localhost:8000"
NONCE = "n-0S6_WzA2Mj"
AUTHENTICATE = "/api/auth/mfa/authenticate/"
WEBAUTHN_BEGIN = "/api/auth/mfa/webauthn/begin/"

#: way → (what it issues, how the first step is sent)
WAYS = {
    "session": "session",
    "token": "token",
    "jwt": "jwt",
    "jwt_cookie": "jwt_cookie",
    "social_token": "token",
    "social_jwt": "jwt",
    "social_jwt_cookie": "jwt_cookie",
}
FACTORS = ("totp", "recovery_code", "webauthn")


def google_uid(user) -> str:
    return f"google-{user.pk}"


def link_google(user) -> SocialAccount:
    """The user's Google identity, linked already (a social sign-in finds the account by it)."""
    return SocialAccount.objects.create(user=user, provider="google", uid=google_uid(user), extra_data={})


def first_step(api, way: str, user, *, password: str = PASSWORD, **extra):
    """The way's first request for ``user`` (social ways need the ``recorded`` fixture with Google's certs played)."""
    if way == "session":
        return api.post("/api/accounts/login/", {"username": user.username, "password": password, **extra}, format="json")
    if way == "token":
        return api.post("/api/auth-token/", {"username": user.username, "password": password, "device_name": "phone", **extra}, format="json")
    if way in ("jwt", "jwt_cookie"):
        body = {"username": user.username, "password": password, **({"cookie": True} if way == "jwt_cookie" else {}), **extra}
        return api.post("/api/token/", body, format="json")
    token = id_token(google_claims(sub=google_uid(user), email=user.email))
    body = {"id_token": token, "nonce": NONCE}
    if way == "social_token":
        body.update(credential="token", device_name="phone")
    elif way == "social_jwt_cookie":
        body.update(cookie=True)
    return api.post("/api/auth/google/", {**body, **extra}, format="json")


def credential_rows(user=None) -> dict[str, int]:
    """Every credential kind a way in can issue, counted (all users, or ``user``'s)."""
    where = {} if user is None else {"user": user}
    return {
        "session": UserSession.objects.filter(**where).count(),
        "token": DeviceToken.objects.filter(**where).count(),
        "jwt": JwtFamily.objects.filter(**where).count(),
    }


def as_json(value):
    return json.loads(json.dumps(value))


def with_webauthn(user, key: SoftKey | None = None, *, name: str = "Key") -> SoftKey:
    """Register a security key for ``user`` through the factor service; the key."""
    key = key or SoftKey(attachment="cross-platform", transports=("usb",))
    options, state = webauthn.registration_begin(user=user, passwordless=False)
    credential = key.create(as_json(options), ORIGIN, resident=False)
    webauthn.registration_complete(user=user, state=as_json(state), credential=as_json(credential), name=name)
    user.refresh_from_db()
    return key


class Factor:
    """What the user holds for one kind of second step."""

    def __init__(self, kind: str, *, app: pyotp.TOTP | None = None, codes: list[str] | None = None, key: SoftKey | None = None):
        self.kind, self.app, self.codes, self.key = kind, app, codes or [], key

    @property
    def methods(self) -> list[str]:
        return {"totp": ["totp"], "recovery_code": ["totp", "recovery_code"], "webauthn": ["webauthn"]}[self.kind]


def give_factor(user, kind: str) -> Factor:
    """``user`` gets a factor of ``kind`` (recovery codes come with a TOTP app: alone they are no factor)."""
    if kind == "totp":
        return Factor(kind, app=with_totp(user))
    if kind == "recovery_code":
        app = with_totp(user)
        codes = recovery_codes_generate(user=user)
        user.refresh_from_db()
        return Factor(kind, app=app, codes=codes)
    return Factor(kind, key=with_webauthn(user))


def webauthn_answer(api, mfa_token: str, key: SoftKey, origin: str = ORIGIN, **get_kwargs) -> dict:
    begun = api.post(WEBAUTHN_BEGIN, {"mfa_token": mfa_token}, format="json")
    assert begun.status_code == 200, begun.content
    return key.get(begun.json(), origin, **get_kwargs)


def answer(api, mfa_token: str, factor: Factor, **extra):
    """Complete the second step with the factor (a fresh TOTP code, the next recovery code, the key's assertion)."""
    if factor.kind == "totp":
        body = {"code": factor.app.now()}
    elif factor.kind == "recovery_code":
        body = {"code": factor.codes.pop(0)}
    else:
        body = {"credential": webauthn_answer(api, mfa_token, factor.key)}
    return api.post(AUTHENTICATE, {"mfa_token": mfa_token, **body, **extra}, format="json")


def authenticate(api, mfa_token, **body):
    return api.post(AUTHENTICATE, {"mfa_token": mfa_token, **body}, format="json")


def shape(response) -> dict:
    """What a client sees of a sign-in's answer, without the values that differ per user or per token."""
    body = response.json()
    cookies = sorted(name for name, morsel in response.cookies.items() if morsel.value)
    fixed = {key: body[key] for key in ("message",) if key in body}
    return {"status": response.status_code, "keys": sorted(body), "cookies": cookies, **fixed}


def profile_with(api, way: str, response):
    """GET the profile with the credential ``response`` issued (the client keeps cookies)."""
    issued = WAYS[way]
    if issued == "token":
        return api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    if issued == "jwt":
        return api.get("/api/accounts/profile/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert issued == "jwt_cookie" and settings.BOUNCER_JWT["ACCESS_COOKIE"] in response.cookies or issued == "session"
    return api.get("/api/accounts/profile/")


def wrong_code(app: pyotp.TOTP) -> str:
    """Six digits none of the codes accepted now (the tolerance's three windows)."""
    import time

    now = time.time()
    valid = {app.at(now + offset) for offset in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)
