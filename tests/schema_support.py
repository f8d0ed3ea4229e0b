"""An answer as the OpenAPI description promises it: its status listed, its body matching.

For regression tests of what the fuzzing (tests/e2e/test_fuzz_api.py) found,
in-process: the description is generated as /api/schema/ serves it.
"""

from __future__ import annotations

import functools
import json
import re

import jsonschema
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator


@functools.lru_cache(maxsize=4)
def _description(basic: bool, grants: tuple) -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def described_operation(method: str, path: str) -> tuple[dict, dict]:
    """(the whole description, the operation whose path template matches ``path``)."""
    # Generated once per value of the settings it depends on (a second or so each time).
    schema = _description(settings.BOUNCER_BASIC_AUTH_ENABLED, tuple(settings.OAUTH2_PROVIDER["OAUTH2_GRANT_TYPES_SUPPORTED"]))
    for template, item in schema["paths"].items():
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return schema, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the description")


def assert_answer_described(response, method: str, path: str) -> None:
    """The response's status is listed for the operation and its JSON body matches that status's schema."""
    schema, operation = described_operation(method, path)
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} answered {status}, described: {sorted(operation['responses'])}"
    content = operation["responses"][status].get("content", {})
    if "application/json" not in content:
        return
    body = json.loads(response.content)
    # OpenAPI 3.0 schemas are JSON Schema with #/components refs: resolve against the whole document.
    validator = jsonschema.Draft4Validator({**content["application/json"]["schema"], "components": schema["components"]})
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, f"{method} {path} {status} body {body} does not match: {errors}"
