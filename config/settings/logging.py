"""One JSON object per log line, with secrets scrubbed by one filter.

Every record reaches exactly one handler, the JSON console on the root
logger. Django's own configuration (``django.utils.log.DEFAULT_LOGGING``,
applied before this one) gives the ``django`` logger a plain-text console
handler (DEBUG only) and the admin mailer, and stops ``django.server`` from
propagating; both are undone here, so a Django record is neither written
twice (once as text) nor lost.
"""

from config.settings import env

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
    },
}
