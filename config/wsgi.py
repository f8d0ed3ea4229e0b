import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

application = get_wsgi_application()


def _posture_refuse() -> None:
    """A production worker does not start on weak settings (bouncer/core/checks.py).

    gunicorn runs no management command, so the posture check is run here,
    once per worker; its findings are the same as ``manage.py check``'s.
    """
    from django.conf import settings
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from bouncer.core.checks import TAG

    if not settings.BOUNCER_PRODUCTION:
        return
    errors = [m for m in checks.run_checks(tags=[TAG]) if m.is_serious() and not m.is_silenced()]
    if errors:
        raise ImproperlyConfigured("Posture check failed:\n" + "\n".join(f"{m.id}: {m.msg} HINT: {m.hint}" for m in errors))


_posture_refuse()

# Refuse to serve without signing keys (the settings load without them so that
# the key commands can run first): gunicorn fails to boot with the reason.
from bouncer.core.serving import serving_keys_require  # noqa: E402

serving_keys_require()
