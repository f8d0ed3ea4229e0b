"""Helpers of the email-flow tests: links out of mails, verification modes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

URL = re.compile(r"https?://[^\s<>\"]+")

RELAXED = {k: "1000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}


def rates(**overrides) -> dict:
    """REST_FRAMEWORK with every throttle relaxed except ``overrides``."""
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**RELAXED, **overrides}}


def links(body: str) -> list[str]:
    return URL.findall(body)


def mails_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def reset_parts(body: str) -> tuple[str, str]:
    """(uid, token) from the reset link of Bouncer's own page in a mail body."""
    for link in links(body):
        match = re.search(r"/accounts/password/reset/([^/]+)/([^/]+)/$", urlsplit(link).path)
        if match:
            return match.group(1), match.group(2)
    raise AssertionError(f"no reset link in {body!r}")


def verify_key(body: str) -> str:
    for link in links(body):
        match = re.search(r"/accounts/verify-email/([^/]+)/$", urlsplit(link).path)
        if match:
            return match.group(1)
    raise AssertionError(f"no verification link in {body!r}")


@pytest.fixture
def mandatory():
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory"):
        yield


@pytest.fixture
def optional():
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="optional"):
        yield


@pytest.fixture
def relaxed():
    """Throttles out of the way for tests that send many requests."""
    with override_settings(REST_FRAMEWORK=rates()):
        yield
