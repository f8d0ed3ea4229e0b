"""Log scrubbing: the one filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest

# Names of fields whose values are secrets; ids such as ``token_id`` are not.
SENSITIVE_KEY = re.compile(
    r"^(password|passwd|secret|token|key|code|access|refresh|authorization|cookie|http_authorization|http_cookie"
    r"|csrf\w*|session\w*|\w*_(password|secret|token|key|code))$",
    re.IGNORECASE,
)
#: Names the pattern above catches that are not secrets: every request line
#: carries ``status_code`` (Django's request and server loggers).
NOT_SECRET = frozenset({"status_code"})
REDACTED = "[redacted]"
#: A query string in a request line: it may carry ``?access_token=...``.
QUERY = re.compile(r"\?[^\s\"]*")


def is_secret_name(name: Any) -> bool:
    return isinstance(name, str) and name.lower() not in NOT_SECRET and SENSITIVE_KEY.search(name) is not None


def scrub(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with every sensitive-looking mapping key's value redacted."""
    if depth > 5:
        return REDACTED
    if isinstance(value, dict):
        return {key: (REDACTED if is_secret_name(key) else scrub(item, depth + 1)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, depth + 1) for item in value]
    return value


# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ScrubSecretsFilter(logging.Filter):
    """Redact sensitive ``extra`` fields; log a request as its method and path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in list(vars(record)):
            if name in _STANDARD:
                continue
            if is_secret_name(name):
                setattr(record, name, REDACTED)
            elif name == "request":
                request = record.request
                if isinstance(request, HttpRequest):
                    # Its repr carries the query string (``?access_token=...``)
                    # and formatters may walk META: method and path are enough.
                    record.request = f"{request.method} {request.path}"
                else:  # runserver's socket: nothing worth a log field
                    del record.request
            else:
                setattr(record, name, scrub(getattr(record, name)))
        if record.name == "django.server" and isinstance(record.args, tuple):
            # runserver logs the raw request line, query string included.
            record.args = tuple(QUERY.sub("", arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
