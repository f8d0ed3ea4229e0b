import logging

from bouncer.core.logging import REDACTED, ScrubSecretsFilter, scrub


def test_scrub_redacts_secret_fields_at_any_depth_and_keeps_ids():
    data = {"password": "p", "token_id": 7, "nested": {"refresh_token": "r", "client_secret": "s", "ok": 1}, "items": [{"code": "c"}]}
    assert scrub(data) == {
        "password": REDACTED, "token_id": 7,
        "nested": {"refresh_token": REDACTED, "client_secret": REDACTED, "ok": 1},
        "items": [{"code": REDACTED}],
    }


def test_filter_redacts_extra_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    record.authorization = "Token abc"
    record.data = {"new_password": "n", "username": "alice"}
    assert ScrubSecretsFilter().filter(record)
    assert record.authorization == REDACTED
    assert record.data == {"new_password": REDACTED, "username": "alice"}
