"""Hands rendered mails to the mail backend off the request path.

Why: the answer to "reset my password" or "send the link again" must take
about the same time whether or not the address has an account. A mail
rendered in the request costs the same in both cases (an unknown address
gets its own notice, or a mail rendered and dropped), but talking to the
SMTP server does not: it takes tens of milliseconds, seconds when the
server is slow, ``EMAIL_TIMEOUT`` when it is down. So one daemon thread per
process sends, and the request only enqueues.

What it is not: a durable queue. A mail still queued when the process stops
is lost (the person asks again). ``BOUNCER_EMAIL["SEND_IN_BACKGROUND"]``
off (the test profile) sends in the request instead.
"""

from __future__ import annotations

import logging
import queue
import threading

from django.conf import settings
from django.core.mail import EmailMessage

logger = logging.getLogger("bouncer.mail")

#: Mails waiting beyond this are dropped (and logged): a flood cannot grow memory without bound.
QUEUE_LIMIT = 1000

_queue: queue.Queue[EmailMessage] = queue.Queue(maxsize=QUEUE_LIMIT)
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def outbox_send(message: EmailMessage) -> None:
    """Send ``message`` now (test profile) or from the background thread; failures are logged only."""
    if not settings.BOUNCER_EMAIL.get("SEND_IN_BACKGROUND", True):
        _deliver(message)
        return
    _worker_start()
    try:
        _queue.put_nowait(message)
    except queue.Full:
        logger.error("mail_queue_full", extra={"event": "mail_queue_full", "subject": message.subject})


def outbox_wait(timeout: float = 10.0) -> bool:
    """Block until every queued mail was handed to the backend (tests, shutdown); False on timeout."""
    done = threading.Event()

    def _join() -> None:
        _queue.join()
        done.set()

    threading.Thread(target=_join, daemon=True).start()
    return done.wait(timeout)


def _worker_start() -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="bouncer-mail", daemon=True)
            _worker.start()


def _run() -> None:
    while True:
        message = _queue.get()
        try:
            _deliver(message)
        finally:
            _queue.task_done()


def _deliver(message: EmailMessage) -> None:
    try:
        message.send()
    except Exception:  # noqa: BLE001 - any SMTP, TLS or socket error: logged, never in an answer
        logger.exception("mail_send_failed", extra={"event": "mail_send_failed", "subject": message.subject})
