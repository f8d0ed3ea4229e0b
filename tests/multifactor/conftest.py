"""Users with factors, and a TOTP app (pyotp: an implementation independent of allauth's)."""

from __future__ import annotations

import pyotp
import pytest

from bouncer.multifactor.totp import totp_activate, totp_secret_new
from tests.conftest import PASSWORD, make_user

__all__ = ["PASSWORD", "make_user", "with_totp"]


def with_totp(user) -> pyotp.TOTP:
    """Give ``user`` a confirmed TOTP factor; the app that makes its codes."""
    secret = totp_secret_new()
    totp_activate(user=user, secret=secret, step=0)
    user.refresh_from_db()
    return pyotp.TOTP(secret)


@pytest.fixture
def totp_user(db):
    user = make_user("alice")
    return user, with_totp(user)
