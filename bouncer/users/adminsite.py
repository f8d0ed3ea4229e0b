"""The admin site: Django's, refusing a session that skipped the second factor.

``BouncerAdminConfig`` replaces ``django.contrib.admin`` in INSTALLED_APPS
only to name ``BouncerAdminSite`` as the default site (Django's documented
way to override ``admin.site``), so every ``@admin.register`` and
``admin.site.urls`` stay as they are. The site lets a staff user in only
when the session is MFA-verified (``bouncer_amr`` has ``mfa``) if the user
has a factor or must have one (``BOUNCER_MFA_REQUIRED``); any other session
is sent to ``/admin/login/``, which is the sign-in page and its second step.

Its own module (not ``admin.py``): the default site is built when
``admin.site`` is first used, and ``admin.py`` registers models on it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


def admin_session_verified(request) -> bool:
    """Whether this session may open the admin as far as the second factor goes."""
    from bouncer.core import assurance
    from bouncer.multifactor.selectors import mfa_required_for

    user = request.user
    if not (user.mfa_enabled or mfa_required_for(user=user)):
        return True
    session = getattr(request, "session", None)
    return session is not None and assurance.amr_is_mfa(session.get(assurance.SESSION_AMR_KEY))


class BouncerAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return super().has_permission(request) and admin_session_verified(request)


class BouncerAdminConfig(AdminConfig):
    default_site = "bouncer.users.adminsite.BouncerAdminSite"
