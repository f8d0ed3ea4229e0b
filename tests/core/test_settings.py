"""Settings read from the environment, checked in fresh interpreter processes
so the environment of each case is exactly what the test sets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRET = "p" * 20 + "-production-secret-key-for-the-test-only-0123456789"


def run(args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "SECRET_KEY", "ALLOWED_HOSTS"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.base", "BOUNCER_LOCAL_DIR": str(tmp_path), **env_overrides})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


OIDC_PEM = None
JWT_PEM = None


def jwt_pem() -> str:
    """One ES256 key for the whole module: production refuses to invent one."""
    global JWT_PEM
    if JWT_PEM is None:
        from bouncer.tokens.jwt.keys import new_ring_entry

        JWT_PEM = new_ring_entry("ES256")["pem"]
    return JWT_PEM


def oidc_pem() -> str:
    """One RSA key for the whole module: production refuses to invent one."""
    global OIDC_PEM
    if OIDC_PEM is None:
        from bouncer.oauth.keys import oidc_ring_entry_new

        OIDC_PEM = oidc_ring_entry_new()["pem"]
    return OIDC_PEM


def production(**extra):
    return {
        "BOUNCER_ENV": "production",
        "SECRET_KEY": PROD_SECRET,
        "ALLOWED_HOSTS": "auth.example.com",
        "BOUNCER_OIDC_PRIVATE_KEY": oidc_pem(),
        "BOUNCER_JWT_PRIVATE_KEY": jwt_pem(),
        **extra,
    }


def setting(name):
    return ["-c", f"import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"]


def test_check_deploy_in_production_mode_prints_no_warning(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The two silenced checks are the toolkit's RFC 9700 note on the password
    # grant, offered on purpose, and its E001 on hashed storage with a refresh
    # grace period, which Bouncer's validator makes work (config/settings/oauth.py
    # says why for both).
    assert "System check identified no issues (2 silenced)." in result.stdout


def test_check_deploy_in_development_mode_warns(tmp_path):
    # The opposite case, so the test above is known to be able to fail.
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], {}, tmp_path)
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS" in result.stderr + result.stdout


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = run(["manage.py", "check"], {"BOUNCER_ENV": "production", "ALLOWED_HOSTS": "a.example"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_file_is_read(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(PROD_SECRET + "\n")
    env = production(SECRET_KEY="")
    env.pop("SECRET_KEY")
    env["SECRET_KEY_FILE"] = str(key_file)
    result = run(setting("SECRET_KEY"), env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(PROD_SECRET)


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    first = run(setting("SECRET_KEY"), {}, tmp_path)
    second = run(setting("SECRET_KEY"), {}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(eval(first.stdout)) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "name, value", [("BOUNCER_TOKEN_TTL_HOURS", "soon"), ("BOUNCER_BASIC_AUTH", "maybe"), ("BOUNCER_ARGON2_MEMORY_KIB", "1024")]
)
def test_bad_environment_value_fails_fast_naming_the_variable(tmp_path, name, value):
    result = run(["manage.py", "check"], {name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr


def test_basic_auth_is_off_by_default_and_on_by_switch(tmp_path):
    assert run(setting("BOUNCER_BASIC_AUTH_ENABLED"), {}, tmp_path).stdout.strip() == "False"
    assert run(setting("BOUNCER_BASIC_AUTH_ENABLED"), {"BOUNCER_BASIC_AUTH": "1"}, tmp_path).stdout.strip() == "True"


def test_throttle_relaxed_switch_raises_every_rate(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    normal = eval(run(["-c", code], {}, tmp_path).stdout)
    relaxed = eval(run(["-c", code], {"BOUNCER_THROTTLE_RELAXED": "1"}, tmp_path).stdout)
    custom = eval(run(["-c", code], {"BOUNCER_THROTTLE_LOGIN": "3/min"}, tmp_path).stdout)
    assert normal["login"] == "10/min"
    assert set(relaxed) == set(normal)
    assert all(rate == "100000/min" for rate in relaxed.values())
    assert custom["login"] == "3/min"


def test_demo_users_are_never_created_in_production_mode(tmp_path):
    db = tmp_path / "prod.sqlite3"
    env = production()
    # A throwaway SQLite file: the production settings read DATABASE_URL.
    env["DATABASE_URL"] = f"sqlite:///{db}"
    assert run(["manage.py", "migrate", "--noinput"], env, tmp_path).returncode == 0
    result = run(["manage.py", "bouncer_demo"], env, tmp_path)
    assert result.returncode != 0
    assert "production" in result.stderr
    count = run(
        ["manage.py", "shell", "-v", "0", "-c",
         "from bouncer.users.models import User; from oauth2_provider.models import get_application_model as m; print(User.objects.count(), m().objects.count())"],
        env, tmp_path,
    )
    assert count.stdout.split() == ["0", "0"]  # no demo user, no demo OAuth client
    assert not (tmp_path / "demo-credentials.json").exists()


def test_demo_users_created_once_in_development_with_credentials_printed(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}"}
    assert run(["manage.py", "migrate", "--noinput"], env, tmp_path).returncode == 0
    first = run(["manage.py", "bouncer_demo"], env, tmp_path)
    second = run(["manage.py", "bouncer_demo"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "username=demo " in first.stdout and "username=demo-staff" in first.stdout
    assert "client_id=bouncer-demo  redirect_uri=http://127.0.0.1:8000/" in first.stdout
    assert first.stdout == second.stdout  # same passwords printed again, no new users
    password = first.stdout.split("username=demo  password=")[1].split()[0]
    check = run(
        ["manage.py", "shell", "-v", "0", "-c",
         f"from bouncer.users.models import User; u=User.objects.get(username='demo'); print(User.objects.count(), u.check_password({password!r}), User.objects.get(username='demo-staff').is_staff)"],
        env, tmp_path,
    )
    assert check.stdout.split() == ["2", "True", "True"]


def test_production_without_oidc_key_refuses_to_start(tmp_path):
    # The settings load (so manage.py oidc_rotate_keys can create the key), but
    # the deploy check and a serving process refuse, and no key is invented.
    env = production()
    env.pop("BOUNCER_OIDC_PRIVATE_KEY")
    result = run(["manage.py", "check", "--deploy"], env, tmp_path)
    assert result.returncode != 0
    assert "(bouncer.E020) No OIDC signing key" in result.stderr
    served = run(["-c", "import config.wsgi"], env, tmp_path)
    assert served.returncode != 0
    assert "No OIDC signing key" in served.stderr
    assert not (tmp_path / "oidc_keys.json").exists()


def test_development_creates_and_keeps_the_oidc_key_ring(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'][:80])"
    first = run(["-c", code], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == run(["-c", code], {}, tmp_path).stdout
    assert (tmp_path / "oidc_keys.json").stat().st_mode & 0o077 == 0
    rotated = run(["manage.py", "oidc_rotate_keys"], {}, tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    keys = run(["-c", code.replace("['OIDC_RSA_PRIVATE_KEY'][:80]", "['OIDC_RSA_PRIVATE_KEYS_INACTIVE'][0][:80]")], {}, tmp_path)
    assert keys.stdout == first.stdout  # the old key stays, for verification


COOKIE_SETTINGS = (
    "SESSION_COOKIE_NAME", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_PATH", "SESSION_COOKIE_DOMAIN",
    "CSRF_COOKIE_NAME", "CSRF_COOKIE_SECURE", "CSRF_COOKIE_PATH", "CSRF_COOKIE_DOMAIN", "BOUNCER_JWT", "BOUNCER_PRODUCTION",
)


def cookie_settings(env, tmp_path) -> dict:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr({{name: getattr(settings, name) for name in {COOKIE_SETTINGS!r}}}))"
    )
    result = run(["-c", code], env, tmp_path)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout)


def test_production_cookie_names_carry_the_host_prefix(tmp_path):
    values = cookie_settings(production(), tmp_path)
    assert (values["SESSION_COOKIE_NAME"], values["CSRF_COOKIE_NAME"]) == ("__Host-sessionid", "__Host-csrftoken")
    assert values["BOUNCER_JWT"]["ACCESS_COOKIE"] == "__Host-bouncer_access"
    # The refresh cookie is scoped to /api/token/, which __Host- forbids: __Secure- is the strongest prefix it can carry.
    assert values["BOUNCER_JWT"]["REFRESH_COOKIE"] == "__Secure-bouncer_refresh"


def test_development_cookie_names_have_no_prefix(tmp_path):
    # Over plain http a browser refuses __Host- and __Secure- cookies.
    values = cookie_settings({}, tmp_path)
    assert (values["SESSION_COOKIE_NAME"], values["CSRF_COOKIE_NAME"]) == ("sessionid", "csrftoken")
    assert (values["BOUNCER_JWT"]["ACCESS_COOKIE"], values["BOUNCER_JWT"]["REFRESH_COOKIE"]) == ("bouncer_access", "bouncer_refresh")


def _prefix_rules_hold(morsel) -> bool:
    """RFC 6265bis 4.1.3: __Secure- needs Secure; __Host- also Path=/ and no Domain."""
    if morsel.key.startswith(("__Secure-", "__Host-")) and not morsel["secure"]:
        return False
    return not morsel.key.startswith("__Host-") or (morsel["path"] == "/" and not morsel["domain"])


@pytest.mark.django_db
def test_production_cookies_as_set_obey_their_prefix_rules_and_csrf_still_works(tmp_path):
    from django.conf import settings
    from django.test import override_settings
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD, make_user

    values = cookie_settings(production(), tmp_path)
    names = {key: values["BOUNCER_JWT"][key] for key in ("ACCESS_COOKIE", "REFRESH_COOKIE", "REFRESH_COOKIE_PATH")}
    # The cookie settings of production; HS256 only because production refuses to invent an ES256 key.
    values["BOUNCER_JWT"] = {**settings.BOUNCER_JWT, **names, "ALGORITHM": "HS256"}
    make_user("alice")
    with override_settings(**values):
        client = APIClient(enforce_csrf_checks=True)
        login = client.post("/api/accounts/login/", {"username": "alice", "password": PASSWORD}, format="json", secure=True)
        assert login.status_code == 200, login.content
        assert {"__Host-sessionid", "__Host-csrftoken"} <= set(login.cookies)
        # An SPA reads the CSRF cookie by its production name and sends it back.
        csrf = login.cookies["__Host-csrftoken"].value
        refused = client.post("/api/accounts/logout/", secure=True)
        assert refused.status_code == 403
        logout = client.post("/api/accounts/logout/", HTTP_X_CSRFTOKEN=csrf, HTTP_REFERER="https://testserver/", secure=True)
        assert logout.status_code == 200, logout.content
        jwt = APIClient().post("/api/token/", {"username": "alice", "password": PASSWORD, "cookie": True}, format="json", secure=True)
        assert jwt.status_code == 200, jwt.content
        assert {"__Host-bouncer_access", "__Secure-bouncer_refresh"} <= set(jwt.cookies)
        for morsel in [*login.cookies.values(), *jwt.cookies.values()]:
            assert _prefix_rules_hold(morsel), morsel.OutputString()


SQLITE_READ_THEN_WRITE = """
import threading
import django
django.setup()
from django.db import connection, connections, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (x integer)")
    cursor.execute("INSERT INTO t VALUES (0)")
read, committed, errors = threading.Event(), threading.Event(), []

def reader_then_writer():
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT x FROM t")
            cursor.fetchall()
            read.set()
            committed.wait(timeout=1)  # the other writer's commit (it waits for us instead when IMMEDIATE)
            cursor.execute("UPDATE t SET x = x + 1")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        read.set()
        connections.close_all()

def other_writer():
    read.wait(timeout=5)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE t SET x = x + 10")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        committed.set()
        connections.close_all()

threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=other_writer)]
[t.start() for t in threads]
[t.join() for t in threads]
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    print(cursor.fetchone()[0], errors, list(connection.cursor().execute("SELECT x FROM t")))
"""


@pytest.mark.parametrize("url", [None, "sqlite:///{tmp}/from-url.sqlite3"], ids=["embedded", "database_url"])
def test_sqlite_read_then_write_waits_for_the_other_writer(tmp_path, url):
    """Two workers writing one SQLite file: a transaction that read first must not fail with "database is locked"."""
    # Embedded: DATABASE_URL empty, whatever the suite itself runs on (CI's PostgreSQL pass sets it).
    result = run(["-c", SQLITE_READ_THEN_WRITE], {"DATABASE_URL": url.format(tmp=tmp_path) if url else ""}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "wal"
    assert result.stdout.strip().endswith("[] [(11,)]"), result.stdout
