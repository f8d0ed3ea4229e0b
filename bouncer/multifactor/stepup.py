"""Step-up: a signed-in user proves a factor again before a sensitive action.

Password change, removing a factor, new recovery codes and "sign out
everywhere" call ``step_up_check``: for a user with a second factor, the
credential this request came with must have stepped up (``step_up``) within
``BOUNCER_MFA_STEP_UP_SECONDS``. A step-up belongs to one credential (its
public id in the credential registry), so a stolen token cannot borrow the
step-up of the user's browser session. A user without a factor has nothing to
step up with; those actions keep their own checks (the old password).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from bouncer.audit.models import AuditAction
from bouncer.audit.services import audit_record
from bouncer.core import credentials
from bouncer.core.exceptions import DomainError
from bouncer.multifactor import webauthn
from bouncer.multifactor.factors import MfaNotEnabled
from bouncer.multifactor.models import ChallengePurpose, StepUp
from bouncer.multifactor.services import MfaCodeInvalid, MfaTokenInvalid, challenge_create, challenge_find, challenge_spend, factor_verify


class StepUpRequired(DomainError):
    status_code = 403
    code = "step_up_required"
    default_detail = "Confirm it is you: verify a second factor at /api/auth/mfa/step-up/ first."


class StepUpUnavailable(DomainError):
    code = "step_up_unavailable"
    default_detail = "This credential cannot step up (sign in with a session, a DRF token or a JWT)."


class StepUpExpired(DomainError):
    code = "step_up_expired"
    default_detail = "This security key check has expired or was already answered. Start again."


class StepUpNoFactor(MfaNotEnabled):
    default_detail = "This account has no second factor to confirm with."


def step_up_webauthn_begin(*, user) -> tuple[str, dict]:
    """(step-up id, options for ``navigator.credentials.get()``) to step up with a security key."""
    if not user.mfa_enabled:
        raise StepUpNoFactor()
    options, state = webauthn.authentication_begin(user=user)
    raw, _ = challenge_create(user=user, purpose=ChallengePurpose.STEP_UP, data={"state": state})
    return raw, options


def step_up(*, request: HttpRequest, user, code=None, credential=None, step_up_id: str | None = None) -> int:
    """Verify one factor answer for ``user`` (throttled, counted toward the lockout) and record it: seconds it lasts."""
    current = credentials.credential_current_id(request=request)
    if current is None:
        raise StepUpUnavailable()
    if not user.mfa_enabled:
        # Nothing to verify: a code would only count as a failed sign-in toward the lockout.
        raise StepUpNoFactor()
    state = None
    if credential is not None:
        try:
            row = challenge_find(raw=step_up_id, purposes=(ChallengePurpose.STEP_UP,), user=user)
            challenge_spend(row)
        except MfaTokenInvalid:
            # Not the 401 of a sign-in's mfa_token: the credential of this request is fine.
            raise StepUpExpired() from None
        state = row.data.get("state")
    elif not isinstance(code, str) or not code.strip():
        raise MfaCodeInvalid("Send a code (or a security key's answer).")
    factor_verify(request=request, user=user, code=code, credential=credential, state=state, method="step_up")
    StepUp.objects.update_or_create(user=user, credential=current, defaults={"at": timezone.now()})
    audit_record(action=AuditAction.STEP_UP, request=request, user=user)
    return settings.BOUNCER_MFA["STEP_UP_SECONDS"]


def step_up_grant(*, request: HttpRequest, user) -> None:
    """The credential that just set up a factor counts as stepped up (it proved the new factor).

    So the user can add a backup key right after the first one; no audit row
    of its own (the enrolment has one).
    """
    current = credentials.credential_current_id(request=request)
    if current is not None:
        StepUp.objects.update_or_create(user=user, credential=current, defaults={"at": timezone.now()})


def step_up_recent(*, request: HttpRequest, user) -> bool:
    current = credentials.credential_current_id(request=request)
    if current is None:
        return False
    since = timezone.now() - timedelta(seconds=settings.BOUNCER_MFA["STEP_UP_SECONDS"])
    return StepUp.objects.filter(user=user, credential=current, at__gte=since).exists()


def step_up_recent_or_needless(*, request: HttpRequest, user) -> bool:
    """True when a sensitive action may go ahead: no factor to step up with, or a recent step-up."""
    return not user.mfa_enabled or step_up_recent(request=request, user=user)


def step_up_check(*, request: HttpRequest, user) -> None:
    """Refuse (403 ``step_up_required``) a sensitive action of a user with a factor who has not stepped up lately."""
    if not step_up_recent_or_needless(request=request, user=user):
        raise StepUpRequired()
