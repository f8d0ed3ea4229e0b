"""JSON Web Tokens (bouncer.tokens.jwt)."""

from config.settings import env

BOUNCER_JWT = {
    "ALGORITHM": env.JWT_ALGORITHM,
    "ACCESS_LIFETIME_SECONDS": env.JWT_ACCESS_SECONDS,
    "REFRESH_LIFETIME_SECONDS": env.JWT_REFRESH_SECONDS,
    "REUSE_GRACE_SECONDS": env.JWT_REUSE_GRACE_SECONDS,
    "REFRESH_DURABLE": env.JWT_REFRESH_DURABLE,
    "ISSUER": env.JWT_ISSUER,
    "AUDIENCE": env.JWT_AUDIENCE,
    "KEYS_FILE": env.JWT_KEYS_FILE,
    "PRIVATE_KEY": env.JWT_PRIVATE_KEY,
    "HS_SECRET": env.JWT_HS_SECRET,
    "LEEWAY_SECONDS": 5,
    "MAX_TOKEN_BYTES": 4096,
    "ACCESS_COOKIE": "bouncer_access",
    "REFRESH_COOKIE": "bouncer_refresh",
    "REFRESH_COOKIE_PATH": "/api/token/",
}
