"""A JSON parser that turns every malformed body into a 400.

DRF's JSONParser catches ``ValueError`` only; a deeply nested body such as
``[[[[...]]]]`` makes ``json.loads`` raise ``RecursionError`` instead, which
would surface as a 500. Nesting deeper than any request of ours needs is
refused too. (Body size is capped by Django's DATA_UPLOAD_MAX_MEMORY_SIZE
before a parser runs; the exception handler answers 413.)
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _depth(value, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        if level > limit:
            return level
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
        if _depth(data, MAX_DEPTH) > MAX_DEPTH:
            raise ParseError("JSON nested too deeply.")
        return data
