"""Mail over real SMTP: a local SMTP server (aiosmtpd) receives the mails, the test follows their links over HTTP.

The server is real (a socket on 127.0.0.1, Django's SMTP backend talking to
it) and so is the HTTP (a live server, ``requests``). Mails go out the way
they do in production: rendered in the request, sent by the background
thread (``bouncer/users/email/outbox.py``); the test waits for the server to
receive them, it never sleeps.
"""

from __future__ import annotations

import email
import socket
import threading
from email import policy

import pytest
import requests
from aiosmtpd.controller import Controller
from django.test import override_settings

from bouncer.users.email.outbox import outbox_wait
from bouncer.users.models import User
from tests.conftest import PASSWORD
from tests.users.email.conftest import links, rates

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


class Inbox:
    """aiosmtpd handler: keeps every received message, wakes waiters."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._changed:
            self.messages.append((list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, rcpt: str, count: int = 1, timeout: float = 15.0) -> list[email.message.EmailMessage]:
        def mine():
            return [m for to, m in self.messages if rcpt in to]

        with self._changed:
            assert self._changed.wait_for(lambda: len(mine()) >= count, timeout), f"no mail for {rcpt}: {self.messages}"
            return mine()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=controller.port,
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_TIMEOUT=5,
            DEFAULT_FROM_EMAIL="Bouncer <no-reply@bouncer.test>",
            BOUNCER_EMAIL={**settings.BOUNCER_EMAIL, "SEND_IN_BACKGROUND": True},
            REST_FRAMEWORK=rates(),
        ):
            yield inbox
            assert outbox_wait(10)
    finally:
        controller.stop()


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_signup_mail_arrives_over_smtp_and_its_link_confirms_the_address(smtp, live_server):
    base = live_server.url
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory"):
        answer = requests.post(f"{base}/api/accounts/register/", json={"username": "dora", "email": "dora@example.com", "password": PASSWORD}, timeout=10)
        assert answer.status_code == 201
        refused = requests.post(f"{base}/api/accounts/login/", json={"username": "dora", "password": PASSWORD}, timeout=10)
        assert refused.status_code == 403 and refused.json()["code"] == "email_unverified"

        [message] = smtp.wait_for("dora@example.com")
        assert message["From"] == "Bouncer <no-reply@bouncer.test>" and "Confirm your email address" in message["Subject"]
        [link] = [url for url in links(body_of(message)) if "/accounts/verify-email/" in url]
        assert link.startswith(base)

        browser = requests.Session()
        page = browser.get(link, timeout=10)  # what a mail scanner does: confirms nothing
        assert page.status_code == 200 and "Confirm my address" in page.text
        assert requests.post(f"{base}/api/accounts/login/", json={"username": "dora", "password": PASSWORD}, timeout=10).status_code == 403
        confirmed = browser.post(link, data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]}, headers={"Referer": link}, timeout=10)
        assert confirmed.status_code == 200 and "Address confirmed" in confirmed.text
        assert requests.post(f"{base}/api/accounts/login/", json={"username": "dora", "password": PASSWORD}, timeout=10).status_code == 200


def test_reset_mail_arrives_over_smtp_and_its_link_sets_a_new_password(smtp, live_server):
    base = live_server.url
    User.objects.create_user(username="alice", email="alice@example.com", password=PASSWORD)
    answer = requests.post(f"{base}/api/auth/password/reset/", json={"email": "alice@example.com"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"detail": "Password reset e-mail has been sent."}

    [message] = smtp.wait_for("alice@example.com")
    assert "Reset your password" in message["Subject"]
    [link] = [url for url in links(body_of(message)) if "/accounts/password/reset/" in url]
    uid, token = link.rstrip("/").split("/")[-2:]

    # The SPA way: the uid and token of the link, posted to dj-rest-auth's confirm path.
    body = {"uid": uid, "token": token, "new_password1": "fresh-passphrase-31", "new_password2": "fresh-passphrase-31"}
    done = requests.post(f"{base}/api/auth/password/reset/confirm/", json=body, timeout=10)
    assert done.status_code == 200 and done.json() == {"detail": "Password has been reset with the new password."}
    again = requests.post(f"{base}/api/auth/password/reset/confirm/", json={**body, "new_password1": "x-other-pass-77", "new_password2": "x-other-pass-77"}, timeout=10)
    assert again.status_code == 400 and again.json()["code"] == "reset_link_invalid"
    login = requests.post(f"{base}/api/accounts/login/", json={"username": "alice", "password": "fresh-passphrase-31"}, timeout=10)
    assert login.status_code == 200


def test_reset_link_of_the_mail_works_on_bouncers_own_page(smtp, live_server):
    base = live_server.url
    User.objects.create_user(username="alice", email="alice@example.com", password=PASSWORD)
    browser = requests.Session()
    form = browser.get(f"{base}/accounts/password/reset/", timeout=10)
    assert form.status_code == 200 and 'for="id_email"' in form.text
    sent = browser.post(
        f"{base}/accounts/password/reset/",
        data={"email": "alice@example.com", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/password/reset/"},
        timeout=10,
    )
    assert sent.status_code == 200 and "Check your mailbox" in sent.text
    [message] = smtp.wait_for("alice@example.com")
    [link] = [url for url in links(body_of(message)) if "/accounts/password/reset/" in url]
    page = browser.get(link, timeout=10)
    assert page.status_code == 200 and "Choose a new password" in page.text
    done = browser.post(
        link,
        data={"new_password1": "page-passphrase-44", "new_password2": "page-passphrase-44", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": link},
        timeout=10,
    )
    assert done.status_code == 200 and "Password changed" in done.text
    assert User.objects.get(username="alice").check_password("page-passphrase-44")


def test_smtp_server_down_answers_the_same_and_logs(live_server, settings, caplog):
    """Nothing listens: the answer is the same 200, the failure is a log line (from the background thread)."""
    import logging

    User.objects.create_user(username="alice", email="alice@example.com", password=PASSWORD)
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=_free_port(),
        EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, EMAIL_TIMEOUT=2,
        BOUNCER_EMAIL={**settings.BOUNCER_EMAIL, "SEND_IN_BACKGROUND": True}, REST_FRAMEWORK=rates(),
    ), caplog.at_level(logging.ERROR, logger="bouncer.mail"):
        known = requests.post(f"{live_server.url}/api/auth/password/reset/", json={"email": "alice@example.com"}, timeout=10)
        unknown = requests.post(f"{live_server.url}/api/auth/password/reset/", json={"email": "nobody@example.com"}, timeout=10)
        assert outbox_wait(15)
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (200, {"detail": "Password reset e-mail has been sent."})
    assert [r.message for r in caplog.records if r.name == "bouncer.mail"].count("mail_send_failed") == 2
