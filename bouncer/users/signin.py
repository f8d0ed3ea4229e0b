"""One sign-in flow: how a person proves who they are with a password.

Every way in goes through here: the session API, the HTML sign-in page, DRF
token login, JWT obtain, the OAuth2 password grant, the Django admin login,
HTTP Basic, the old password of a password change, and any other caller of
``django.contrib.auth.authenticate()``. This module owns, for all of them:

- the per-address throttle (the entry point names its scope) and the
  per-account throttle (``login_account``), counted in one cache round trip;
- the lockout (``users/lockout.py``);
- the hasher run for unknown users (ModelBackend's, through
  ``authenticate()``), so timing does not tell a known name from an unknown;
- one generic failure (``InvalidCredentials``) for unknown user, wrong
  password and inactive user;
- the audit rows ``LOGIN_FAILED`` and ``ACCOUNT_LOCKED`` (``LOGIN_SUCCEEDED``
  stays with the entry points that write it: session, HTML page, admin).

The guard lives where ``authenticate()`` lands: ``CachedModelBackend.authenticate``
calls ``signin_guard``, so no caller can skip it. An entry point calls
``signin_password``, which opens a ``signin_attempt`` (method, per-address
scope), calls ``authenticate()`` and reads what the guard decided, so an
attempt is counted exactly once. A throttled or locked attempt makes the
backend raise ``PermissionDenied``, which stops ``authenticate()`` there:
no later backend is ever asked about a locked account.

The result (``SignInResult``) can say "password accepted, another step is
required before a credential is issued" (``pending_steps``): ``mfa`` for a
user with a second factor, ``mfa_enrol`` for a user who must have one
(``BOUNCER_MFA_REQUIRED``) and has none; ``signin_result`` alone decides.
An entry point hands its result to ``signin_finish`` with what it would
issue (``session``, ``token``, ``jwt`` and their options): a complete result is
issued at once through the finisher each kind registers
(``signin_finisher_register``), an incomplete one becomes the 401
``mfa_required`` / ``mfa_enrolment_required`` with an ``mfa_token``, and
``POST /api/auth/mfa/authenticate/`` later runs the same finisher
(bouncer/multifactor/). Callers that cannot run a second step (the admin's
own form, Basic, the OAuth2 password grant, foreign callers of
``authenticate()``) get no user for an incomplete result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.module_loading import import_string

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import assurance
from bouncer.core.exceptions import CACHE_ERRORS, DomainError, InvalidCredentials, dependency_failed
from bouncer.core.http import client_bucket
from bouncer.core.throttling import Hit, account_ident, throttle_hit, throttle_release
from bouncer.users.lockout import (
    lockout_attempt_begin,
    lockout_attempt_release,
    lockout_record_failure,
    lockout_remaining,
    lockout_reset,
)

#: The per-account throttle's scope, shared by every way in.
ACCOUNT_SCOPE = "login_account"


class SignInThrottled(DomainError):
    """Too many attempts from this address or on this account: 429 with ``Retry-After``."""

    status_code = 429
    code = "throttled"
    default_detail = "Too many sign-in attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class AccountLocked(DomainError):
    status_code = 429
    code = "account_locked"
    default_detail = "Too many failed sign-in attempts. Try again later."

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__()
        self.retry_after = retry_after or settings.BOUNCER_LOCKOUT_SECONDS


class EmailUnverified(DomainError):
    """Verification is ``mandatory`` and the account's address is not confirmed yet: no credential.

    Only after a right password (or a provider's proof), so the code tells
    nothing to someone who does not already hold the account.
    """

    status_code = 403
    code = "email_unverified"
    default_detail = "Confirm your email address before signing in. We can send the link again."


class SignInIncomplete(DomainError):
    """The password was right but a step is still owed: no credential is issued."""

    status_code = 401
    code = "signin_incomplete"
    default_detail = "Another sign-in step is required."

    def __init__(self, steps: tuple[str, ...]) -> None:
        super().__init__({"detail": self.default_detail, "code": self.code, "steps": list(steps)})
        self.steps = tuple(steps)


@dataclass(frozen=True)
class SignInResult:
    """Who proved who they are, and what is still owed before a credential is issued."""

    user: object
    pending_steps: tuple[str, ...] = ()
    #: How the first factor was proven (bouncer/core/assurance.py): ("pwd",) or ("fed",).
    amr: tuple[str, ...] = (assurance.PWD,)

    @property
    def complete(self) -> bool:
        return not self.pending_steps

    def completed_user(self):
        """The user, for an entry point about to issue a credential; refuses an incomplete result."""
        if not self.complete:
            raise SignInIncomplete(self.pending_steps)
        return self.user


@dataclass
class SignInAttempt:
    """How the current entry point signs in, and what the guard decided."""

    method: str
    #: The per-address throttle's scope; None when the entry point already throttles per address.
    address_scope: str | None = "login"
    #: A credential sent with every request (Basic): a success is given back
    #: to the throttles, so a well-behaved client is not throttled by its own requests.
    per_request: bool = False
    #: Whether the caller can run a step after the password (only ``signin_password``'s callers can).
    multi_step: bool = False
    #: The password starts a sign-in, which may owe a second step (False: a signed-in
    #: user proving the password again, which completes nothing else).
    first_factor: bool = True
    refusal: DomainError | None = None
    result: SignInResult | None = None


#: The attempt the current entry point opened: Django's authenticate() returns
#: only a user or None, so the guard tells the entry point why through this.
_current: ContextVar[SignInAttempt | None] = ContextVar("bouncer_signin_attempt", default=None)


def signin_entry_point(method: str):
    """Marks a view as a way in through this flow.

    tests/security/test_signin_urls.py finds every URL that checks a password
    or a client secret by probing the URLconf, and fails for one whose view
    lacks this mark: a new way in cannot skip the flow unnoticed.
    """

    def mark(view):
        view.signin_method = method
        return view

    return mark


@contextmanager
def signin_attempt(*, method: str, address_scope: str | None = "login", per_request: bool = False, multi_step: bool = False) -> Iterator[SignInAttempt]:
    """Every ``authenticate()`` inside is counted and audited as ``method``."""
    attempt = SignInAttempt(method=method, address_scope=address_scope, per_request=per_request, multi_step=multi_step)
    token = _current.set(attempt)
    try:
        yield attempt
    finally:
        _current.reset(token)


def signin_password(
    *,
    request: HttpRequest,
    username: str,
    password: str,
    method: str,
    address_scope: str | None = "login",
    per_request: bool = False,
) -> SignInResult:
    """A username and password, through every rule above.

    Raises ``SignInThrottled`` or ``AccountLocked`` (429) when refused before
    the password is looked at, ``InvalidCredentials`` for every kind of
    failure; else the result, which the caller issues a credential for only
    when it is complete.
    """
    with signin_attempt(method=method, address_scope=address_scope, per_request=per_request, multi_step=True) as attempt:
        user = authenticate(request, username=username, password=password)
    if attempt.refusal is not None:
        raise attempt.refusal
    if user is None or attempt.result is None:
        raise InvalidCredentials()
    return attempt.result


def signin_password_confirm(*, request: HttpRequest, user, password: str, method: str = "password_change") -> bool:
    """A signed-in user proves their password again (password change).

    Counts toward the same per-account throttle and lockout as a sign-in
    (per-address is the authenticated endpoint's business): a stolen session
    cannot guess the old password forever. Raises the 429s; returns whether
    the password was right.
    """
    attempt = SignInAttempt(method=method, address_scope=None, first_factor=False)
    verify = lambda: user if user.check_password(password) else None  # noqa: E731
    return _check(attempt=attempt, request=request, username=user.get_username(), verify=verify) is not None


def signin_throttle_address(*, request: HttpRequest, scope: str) -> None:
    """Count one attempt of a way in that has no username yet (social sign-in); 429 when over."""
    address = client_bucket(request)
    wait = throttle_hit([Hit(scope, address)]) if address else None
    if wait is not None:
        raise SignInThrottled(wait)


def signin_external(
    *, request: HttpRequest, user, method: str, data: dict | None = None, amr: tuple[str, ...] = (assurance.FED,), record: bool = True
) -> SignInResult:
    """A person proved who they are elsewhere (a social provider) or without a password (a passkey): the same rules after the proof.

    The caller has counted the attempt on its per-address scope
    (``signin_throttle_address``) and resolved the provider's identity to
    ``user`` (None: no account may be signed in). Here, as for a password:
    the per-account throttle, the lockout (a locked account stays locked on
    every way in), an inactive account refused with the one generic failure,
    the audit row, and the steps still owed (``signin_result``). The caller
    issues a credential only for a complete result. ``amr`` says what the
    proof was (``fed`` for a provider; a passkey's ``swk``/``hwk`` + ``mfa``, which
    owes no second step). ``record=False`` leaves the ``LOGIN_SUCCEEDED`` row to
    the caller's finisher (the ``session`` finisher writes its own).
    """
    if user is None or not user.is_active:
        audit_record(action=AuditAction.LOGIN_FAILED, request=request, user=user, username=getattr(user, "username", ""), method=method, data=data or {})
        raise InvalidCredentials()
    username = user.get_username()
    wait = throttle_hit([Hit(ACCOUNT_SCOPE, account_ident(username))])
    if wait is not None:
        raise SignInThrottled(max(wait, lockout_remaining(username=username) or 0))
    remaining = lockout_remaining(username=username)
    if remaining is not None:
        audit_record(action=AuditAction.LOGIN_FAILED, request=request, user=user, username=username, method=method, data={**(data or {}), "reason": "locked"})
        raise AccountLocked(remaining)
    try:
        result = signin_result(user=user, amr=amr)
    except EmailUnverified:
        _unverified_record(request=request, user=user, method=method, data=data)
        raise
    if result.complete and record:
        audit_record(action=AuditAction.LOGIN_SUCCEEDED, request=request, user=user, method=method, data=data or {})
    return result


def signin_result(*, user, amr: tuple[str, ...] = (assurance.PWD,)) -> SignInResult:
    """What is owed after a right password (or a provider's proof); every way in passes here.

    Refuses (``EmailUnverified``) an account whose address is unconfirmed
    while verification is ``mandatory`` (bouncer/users/email/selectors.py
    says which accounts count as confirmed); the caller writes the one
    ``LOGIN_FAILED`` row (``_unverified_record``). Then the second factor
    (bouncer/multifactor/selectors.py): ``mfa`` when the user has one,
    ``mfa_enrol`` when one is required and missing; neither when the proof
    itself was multi-factor (``amr`` has ``mfa``: a passkey with user verification).
    """
    # Imported here: this module loads with the authentication classes, before allauth's models.
    from bouncer.multifactor.selectors import mfa_pending_step
    from bouncer.users.email.selectors import email_signin_allowed, email_verification_mode

    if email_verification_mode() == "mandatory" and not email_signin_allowed(user=user):
        raise EmailUnverified()
    step = None if assurance.amr_is_mfa(amr) else mfa_pending_step(user=user)
    return SignInResult(user=user, pending_steps=(step,) if step else (), amr=tuple(amr))


#: What each kind issues at the end of a sign-in: issue name → dotted path of
#: ``finish(*, request, user, options, amr, method) -> Response``. Registered by
#: each kind's AppConfig.ready() (by path: this module imports no kind).
_finishers: dict[str, str] = {}


def signin_finisher_register(issue: str, path: str) -> None:
    _finishers[issue] = path


def signin_issue(*, request: HttpRequest, user, issue: str, options: dict, amr, method: str):
    """Issue what a completed sign-in asked for, through the kind's finisher."""
    return import_string(_finishers[issue])(request=request, user=user, options=options, amr=tuple(amr), method=method)


def signin_finish(*, request: HttpRequest, result: SignInResult, method: str, issue: str, options: dict | None = None):
    """The end of every way in that can run a second step: the credential, or the 401 asking for the step.

    ``issue`` names the finisher (``session``, ``token``, ``jwt``) and
    ``options`` its settings (device name, cookie mode): they are kept on the
    ``mfa_token``'s challenge, so the step completes into exactly what was asked.
    """
    from bouncer.multifactor.services import mfa_signin_challenge

    options = options or {}
    if result.complete:
        return signin_issue(request=request, user=result.user, issue=issue, options=options, amr=result.amr, method=method)
    step = result.pending_steps[0]
    raise mfa_signin_challenge(request=request, user=result.user, step=step, method=method, issue=issue, options=options, amr=result.amr)


def _unverified_record(*, request: HttpRequest | None, user, method: str, data: dict | None = None) -> None:
    audit_record(
        action=AuditAction.LOGIN_FAILED, request=request, user=user, method=method, data={**(data or {}), "reason": EmailUnverified.code}
    )


def signin_guard(*, request: HttpRequest | None, username: str, verify: Callable[[], object | None]):
    """Called by the authentication backend for every ``authenticate()`` with a password.

    ``verify`` is ModelBackend's own check (the hasher runs for unknown
    users too). Returns the user, or None for a failure; a refusal (throttle,
    lock) raises ``PermissionDenied`` so no other backend is asked.
    """
    attempt = _current.get() or SignInAttempt(method=_method_of(request))
    try:
        user = _check(attempt=attempt, request=request, username=username, verify=verify)
    except (SignInThrottled, AccountLocked) as refusal:
        attempt.refusal = refusal
        raise PermissionDenied(refusal.code) from None
    if user is None:
        return None
    try:
        attempt.result = signin_result(user=user)
    except EmailUnverified as refusal:
        _unverified_record(request=request, user=user, method=attempt.method)
        attempt.refusal = refusal
        raise PermissionDenied(refusal.code) from None
    if not attempt.result.complete and not attempt.multi_step:
        # A caller that cannot run the next step (Basic, foreign callers) gets no user.
        signin_incomplete_record(request=request, user=user, method=attempt.method, step=attempt.result.pending_steps[0])
        return None
    return user


def signin_incomplete_record(*, request: HttpRequest | None, user, method: str, step: str) -> None:
    """A right password on a way in that cannot carry the step still owed: one audit row.

    ``MFA_MISSING`` when a factor is required and the user has none, else
    ``LOGIN_FAILED`` with the step as its reason.
    """
    if step == "mfa_enrol":
        audit_record(action=AuditAction.MFA_MISSING, request=request, user=user, method=method)
    else:
        audit_record(action=AuditAction.LOGIN_FAILED, request=request, user=user, method=method, data={"reason": step})


def signin_succeeded_record(*, request: HttpRequest, user, method: str) -> None:
    audit_record(action=AuditAction.LOGIN_SUCCEEDED, request=request, user=user, method=method)


def _second_step_owed(user) -> bool:
    from bouncer.multifactor.selectors import mfa_pending_step

    return mfa_pending_step(user=user) is not None


def _method_of(request) -> str:
    path = getattr(request, "path", "") or ""
    return "admin" if path.startswith("/admin/") else "password"


def signin_attempt_give_back(*, username: str, hits: list[Hit] | None = None, now: float | None = None) -> None:
    """Give back the lockout place and the throttle hits of an attempt a dependency outage cut short.

    Best effort: with Redis itself down there is nothing to give back to (and
    nothing was counted)."""
    try:
        lockout_attempt_release(username=username)
        if hits:
            throttle_release(hits, now=now)
    except CACHE_ERRORS:
        pass


def _check(*, attempt: SignInAttempt, request, username: str, verify: Callable[[], object | None]):
    hits = [Hit(ACCOUNT_SCOPE, account_ident(username))]
    address = client_bucket(request) if request is not None and attempt.address_scope else None
    if address:
        hits.append(Hit(attempt.address_scope, address))
    now = time.time()
    # Counted before the password is looked at, Basic's too (its success is
    # given back below): a burst in parallel cannot all pass a look.
    wait = throttle_hit(hits, now=now)
    if wait is not None:
        # Waiting out the throttle alone would meet the lock, if there is one:
        # Retry-After is the later of the two.
        raise SignInThrottled(max(wait, lockout_remaining(username=username) or 0))
    if "\x00" in username:
        # PostgreSQL refuses a NUL byte in the lookup and in the audit row
        # (a 500); no account can have that name, so nothing to look up or record.
        return None
    # The attempt takes its place in the lockout count before the password is
    # looked at, so parallel guesses cannot all pass a "not locked yet" test.
    remaining, place = lockout_attempt_begin(username=username)
    if remaining is not None:
        audit_record(action=AuditAction.LOGIN_FAILED, request=request, username=username, method=attempt.method, data={"reason": "locked"})
        raise AccountLocked(remaining)
    try:
        user = verify()
    except Exception as exc:
        if dependency_failed(exc) is not None:
            # The database (or the cache) did not answer: no password was
            # checked, so the attempt counts for nothing. Kept, it would lock
            # out every user who retried during an outage (found by
            # tests/e2e/test_faults_postgres.py).
            signin_attempt_give_back(username=username, hits=hits, now=now)
        raise
    if user is None:
        audit_record(action=AuditAction.LOGIN_FAILED, request=request, username=username, method=attempt.method)
        if lockout_record_failure(username=username, place=place):
            audit_record(action=AuditAction.ACCOUNT_LOCKED, request=request, username=username, method=attempt.method)
        return None
    if attempt.first_factor and _second_step_owed(user):
        # Not complete yet: the failures counted so far stand until the second
        # step succeeds (multifactor/services.factor_verify resets them), and a
        # per-request credential gets nothing back from the throttles.
        lockout_attempt_release(username=username)
        return user
    lockout_reset(username=username)
    if attempt.per_request:
        throttle_release(hits, now=now)  # a per-request credential's success does not use up the throttles
    return user
