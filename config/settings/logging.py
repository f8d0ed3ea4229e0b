"""One JSON object per log line, with secrets scrubbed by one filter."""

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
        # runserver's request lines: shown in development, quiet in production.
        "django.server": {"level": "INFO" if env.DEBUG else "WARNING"},
        "bouncer.audit": {"level": "INFO", "propagate": True},
    },
}
