"""The posture check (bouncer/core/checks.py): weak settings fail start-up in production."""

import pytest
from django.conf import settings
from django.test import override_settings
from oauth2_provider.models import AbstractApplication, get_application_model

from bouncer.core.checks import posture_check
from tests.core.test_settings import production, run

GOOD_JWT = {
    "ALGORITHM": "ES256",
    "ACCESS_LIFETIME_SECONDS": 300,
    "HS_SECRET": "",
    "ACCESS_COOKIE": "__Host-bouncer_access",
    "REFRESH_COOKIE": "__Secure-bouncer_refresh",
}


def good(**overrides):
    """The settings production mode gives, with what the test profile turns on turned off."""
    values = {
        "BOUNCER_PRODUCTION": True,
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "BOUNCER_BASIC_AUTH_ENABLED": False,
        "BOUNCER_JWT": {**settings.BOUNCER_JWT, **GOOD_JWT},
        "OAUTH2_PROVIDER": {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 3600},
    }
    values.update(overrides)
    return override_settings(**values)


def ids(**overrides):
    with good(**overrides):
        return [message.id for message in posture_check()]


def jwt(**conf):
    return {**settings.BOUNCER_JWT, **GOOD_JWT, **conf}


def rates(**changed):
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **changed}}


@pytest.mark.django_db
def test_good_production_settings_give_no_error():
    assert ids() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"BOUNCER_JWT": jwt(ALGORITHM="HS256", HS_SECRET="")}, "bouncer.E001"),
        ({"BOUNCER_JWT": jwt(ALGORITHM="HS256", HS_SECRET=None)}, "bouncer.E001"),
        ({"BOUNCER_JWT": jwt(ALGORITHM="HS256", HS_SECRET="s" * 31)}, "bouncer.E002"),
        ({"BOUNCER_JWT": jwt(ACCESS_LIFETIME_SECONDS=3601)}, "bouncer.E003"),
        ({"SESSION_COOKIE_SECURE": False}, "bouncer.E005"),
        ({"CSRF_COOKIE_SECURE": False}, "bouncer.E006"),
        ({"SESSION_COOKIE_HTTPONLY": False}, "bouncer.E007"),
        ({"BOUNCER_JWT": jwt(ACCESS_COOKIE="bouncer_access")}, "bouncer.E008"),
        ({"BOUNCER_JWT": jwt(REFRESH_COOKIE="bouncer_refresh")}, "bouncer.E008"),
        ({"BOUNCER_BASIC_AUTH_ENABLED": True}, "bouncer.E009"),
        ({"DEBUG": True}, "bouncer.E010"),
    ],
)
def test_each_weak_setting_gives_its_error(overrides, expected):
    assert ids(**overrides) == [expected]


@pytest.mark.django_db
def test_hs256_with_secret_key_as_its_secret_is_the_default_key():
    with good():
        found = ids(BOUNCER_JWT=jwt(ALGORITHM="HS256", HS_SECRET=settings.SECRET_KEY))
    assert found == ["bouncer.E001"]


@pytest.mark.django_db
def test_hs256_with_a_long_own_secret_passes():
    assert ids(BOUNCER_JWT=jwt(ALGORITHM="HS256", HS_SECRET="k" * 32)) == []


@pytest.mark.django_db
def test_oauth_access_longer_than_an_hour():
    with good():
        found = ids(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 3601})
    assert found == ["bouncer.E004"]


@pytest.mark.django_db
@pytest.mark.parametrize("rate", ["ten/min", "10/fortnight", "10", "10/", "0/min", ""])
def test_throttle_rate_that_does_not_parse(rate):
    with good():
        found = ids(REST_FRAMEWORK=rates(login=rate))
    assert found == ["bouncer.E012"]


@pytest.mark.django_db
def test_every_hint_names_what_to_change():
    with good(
        BOUNCER_JWT=jwt(ALGORITHM="HS256", HS_SECRET="short", ACCESS_LIFETIME_SECONDS=7200),
        BOUNCER_BASIC_AUTH_ENABLED=True,
        DEBUG=True,
    ):
        messages = {m.id: m for m in posture_check()}
    assert "BOUNCER_JWT_HS_SECRET" in messages["bouncer.E002"].hint
    assert "BOUNCER_JWT_ACCESS_SECONDS" in messages["bouncer.E003"].hint
    assert "BOUNCER_BASIC_AUTH" in messages["bouncer.E009"].hint
    assert "DJANGO_DEBUG" in messages["bouncer.E010"].hint


def make_application(client_type, grant):
    return get_application_model().objects.create(
        name="legacy", client_type=client_type, authorization_grant_type=grant, redirect_uris=""
    )


@pytest.mark.django_db
def test_public_client_with_password_grant_made_outside_the_command():
    app = make_application(AbstractApplication.CLIENT_PUBLIC, AbstractApplication.GRANT_PASSWORD)
    make_application(AbstractApplication.CLIENT_CONFIDENTIAL, AbstractApplication.GRANT_PASSWORD)
    with good():
        messages = posture_check()
    assert [m.id for m in messages] == ["bouncer.E011"]
    assert app.client_id in messages[0].msg


@pytest.mark.django_db
def test_confidential_password_client_and_public_code_client_pass():
    make_application(AbstractApplication.CLIENT_CONFIDENTIAL, AbstractApplication.GRANT_PASSWORD)
    make_application(AbstractApplication.CLIENT_PUBLIC, AbstractApplication.GRANT_AUTHORIZATION_CODE)
    assert ids() == []


@pytest.mark.django_db
def test_development_reports_nothing_even_on_weak_settings():
    make_application(AbstractApplication.CLIENT_PUBLIC, AbstractApplication.GRANT_PASSWORD)
    found = ids(
        BOUNCER_PRODUCTION=False,
        DEBUG=True,
        SESSION_COOKIE_SECURE=False,
        BOUNCER_BASIC_AUTH_ENABLED=True,
        BOUNCER_JWT=jwt(ALGORITHM="HS256", HS_SECRET="", ACCESS_COOKIE="bouncer_access"),
    )
    assert found == []


# --- real processes ------------------------------------------------------------


def test_manage_py_check_fails_in_production_on_weak_settings(tmp_path):
    weak = production(
        BOUNCER_JWT_ALGORITHM="hs256",
        BOUNCER_JWT_HS_SECRET="too-short",
        BOUNCER_OAUTH_ACCESS_SECONDS="86400",
        BOUNCER_BASIC_AUTH="1",
        BOUNCER_THROTTLE_TOKEN="lots",
    )
    result = run(["manage.py", "check"], weak, tmp_path)
    assert result.returncode != 0
    for expected in ("bouncer.E002", "bouncer.E004", "bouncer.E009", "bouncer.E012", "BOUNCER_THROTTLE_TOKEN"):
        assert expected in result.stderr
    # migrate runs the checks too: a weak production cannot even be migrated.
    assert run(["manage.py", "migrate", "--noinput"], weak, tmp_path).returncode != 0


def test_wsgi_worker_refuses_to_start_in_production_on_weak_settings(tmp_path):
    # gunicorn runs no management command: config/wsgi.py runs the check.
    load = ["-c", "import config.wsgi; print('loaded')"]
    weak = run(load, production(BOUNCER_BASIC_AUTH="1"), tmp_path)
    assert weak.returncode != 0
    assert "bouncer.E009" in weak.stderr and "loaded" not in weak.stdout
    fine = run(load, production(), tmp_path)
    assert fine.returncode == 0, fine.stderr
    assert "loaded" in fine.stdout


def test_check_fails_in_production_on_a_public_password_client_in_the_database(tmp_path):
    env = production(DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    assert run(["manage.py", "migrate", "--noinput"], env, tmp_path).returncode == 0
    assert run(["manage.py", "check"], env, tmp_path).returncode == 0
    create = (
        "from oauth2_provider.models import Application; "
        "Application.objects.create(name='spa', client_type='public', authorization_grant_type='password', client_id='spa-legacy')"
    )
    made = run(["manage.py", "shell", "-v", "0", "-c", create], env, tmp_path)  # shell runs no checks
    assert made.returncode == 0, made.stderr
    result = run(["manage.py", "check"], env, tmp_path)
    assert result.returncode != 0
    assert "bouncer.E011" in result.stderr and "spa-legacy" in result.stderr


def test_development_check_stays_clean_even_with_basic_on(tmp_path):
    result = run(["manage.py", "check"], {"BOUNCER_BASIC_AUTH": "1", "BOUNCER_JWT_ALGORITHM": "hs256"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
