"""Log scrubbing: the one filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re
from typing import Any

# Names of fields whose values are secrets; ids such as ``token_id`` are not.
SENSITIVE_KEY = re.compile(
    r"^(password|passwd|secret|token|key|code|access|refresh|authorization|cookie|http_authorization|http_cookie"
    r"|csrf\w*|session\w*|\w*_(password|secret|token|key|code))$",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def scrub(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with every sensitive-looking mapping key's value redacted."""
    if depth > 5:
        return REDACTED
    if isinstance(value, dict):
        return {
            key: (REDACTED if isinstance(key, str) and SENSITIVE_KEY.search(key) else scrub(item, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(item, depth + 1) for item in value]
    return value


# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ScrubSecretsFilter(logging.Filter):
    """Redact sensitive ``extra`` fields and the request object's headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in list(vars(record)):
            if name in _STANDARD:
                continue
            if SENSITIVE_KEY.search(name):
                setattr(record, name, REDACTED)
            elif name == "request":
                # Django attaches the HttpRequest to error records; its repr is
                # harmless but formatters may walk META, so drop it.
                setattr(record, name, repr(getattr(record, name)))
            else:
                setattr(record, name, scrub(getattr(record, name)))
        return True
