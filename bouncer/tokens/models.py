"""Django discovers an app's models here; each mechanism keeps its own module."""

from bouncer.tokens.jwt.models import JwtFamily, JwtRefreshToken
from bouncer.tokens.opaque.models import DeviceToken

__all__ = ["DeviceToken", "JwtFamily", "JwtRefreshToken"]
