"""Users, passwords, sessions."""

from config.settings import env

AUTH_USER_MODEL = "users.User"
# ModelBackend's sign-in (case-insensitive through User.objects, the hasher
# run even for unknown users) with the per-request user read via the cache.
AUTHENTICATION_BACKENDS = ["bouncer.users.backends.CachedModelBackend"]
BOUNCER_AUTH_CACHE_SECONDS = env.AUTH_CACHE_SECONDS

# Argon2id first: new hashes use it. PBKDF2 stays so hashes made by a stock
# Django install are still accepted and upgraded to Argon2id at the next login.
PASSWORD_HASHERS = [
    "bouncer.users.hashers.BouncerArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
BOUNCER_ARGON2 = {
    "memory_cost": env.ARGON2_MEMORY_KIB,
    "time_cost": env.ARGON2_TIME_COST,
    "parallelism": env.ARGON2_PARALLELISM,
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions are written to the database and read from the cache (Redis when
# REDIS_URL is set), so a request costs no session query on a cache hit and a
# session survives a cache flush. bouncer.users.sessions is Django's cached_db
# that also fetches the signed-in user in the same cache round trip.
SESSION_ENGINE = "bouncer.users.sessions"
SESSION_COOKIE_AGE = env.SESSION_AGE_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "sessionid"
# The SPA reads the csrftoken cookie to send X-CSRFToken, so it is not HttpOnly.
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False

BOUNCER_TOKEN_TTL_HOURS = env.TOKEN_TTL_HOURS
BOUNCER_BASIC_AUTH_ENABLED = env.BASIC_AUTH_ENABLED
BOUNCER_LOCKOUT_ATTEMPTS = env.LOCKOUT_ATTEMPTS
BOUNCER_LOCKOUT_SECONDS = env.LOCKOUT_SECONDS

# Bouncer's HTML sign-in page (bouncer.users.views): /o/authorize/ and the
# other toolkit pages send signed-out users there with ?next=.
LOGIN_URL = "/accounts/login/"
# Where the page goes when there is no (safe) next: the applications the user authorized.
LOGIN_REDIRECT_URL = "/o/authorized_tokens/"
