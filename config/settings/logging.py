"""One JSON object per log line, with secrets scrubbed by one filter.

Every record reaches exactly one handler, the JSON console on the root
logger. Django's own configuration (``django.utils.log.DEFAULT_LOGGING``,
applied before this one) gives the ``django`` logger a plain-text console
handler (DEBUG only) and the admin mailer, and stops ``django.server`` from
propagating; both are undone here, so a Django record is neither written
twice (once as text) nor lost.
"""

from config.settings import env

#: Libraries that write credentials into their DEBUG lines: oauthlib every
#: token it issues and every code it grants, the toolkit the redirect that
#: carries a code and failed Basic credentials, Django's SQL log (DEBUG on)
#: every session key it looks up. Never below INFO, whatever BOUNCER_LOG_LEVEL
#: says: a debug log is for Bouncer's own lines, and the scrubber cannot find a
#: token inside a library's free-text message.
SECRET_BEARING_LOGGERS = ("oauthlib", "oauth2_provider", "django.db.backends")
_QUIET_LEVEL = "INFO" if env.LOG_LEVEL == "debug" else env.LOG_LEVEL.upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": "bouncer.core.logging.ScrubSecretsFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["scrub"]},
    },
    "root": {"handlers": ["console"], "level": env.LOG_LEVEL.upper()},
    "loggers": {
        # No handlers of its own (Django's text console and mailer removed);
        # NOTSET: the root level (BOUNCER_LOG_LEVEL) decides.
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
        # runserver's request lines: shown in development, quiet in production.
        "django.server": {"handlers": [], "level": "INFO" if env.DEBUG else "WARNING", "propagate": True},
        "bouncer.audit": {"level": "INFO", "propagate": True},
        **{name: {"level": _QUIET_LEVEL, "propagate": True} for name in SECRET_BEARING_LOGGERS},
    },
}
