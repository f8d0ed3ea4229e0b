"""Cookie mode: the tokens in HttpOnly cookies instead of the response body."""

from __future__ import annotations

from django.conf import settings

from bouncer.tokens.jwt.services import TokenPair


def set_token_cookies(response, pair: TokenPair) -> None:
    conf = settings.BOUNCER_JWT
    secure = settings.BOUNCER_PRODUCTION
    response.set_cookie(
        conf["ACCESS_COOKIE"], pair.access, expires=pair.access_expires, path="/",
        secure=secure, httponly=True, samesite="Lax",
    )
    response.set_cookie(
        conf["REFRESH_COOKIE"], pair.refresh, expires=pair.refresh_expires, path=conf["REFRESH_COOKIE_PATH"],
        secure=secure, httponly=True, samesite="Strict",
    )


def clear_token_cookies(response) -> None:
    conf = settings.BOUNCER_JWT
    response.delete_cookie(conf["ACCESS_COOKIE"], path="/", samesite="Lax")
    response.delete_cookie(conf["REFRESH_COOKIE"], path=conf["REFRESH_COOKIE_PATH"], samesite="Strict")
