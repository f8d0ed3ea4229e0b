"""Moving in from tutorial 000's stack, end to end (docs/migrating.md).

The old database is built by the tutorial's own project (tests/migrating/tutorial/,
its settings and endpoints, in a subprocess): a SQLite file, or a PostgreSQL
database ``bouncer_migrating_src_*`` when DATABASE_URL is PostgreSQL. Then
``manage.py bouncer_import`` moves it into a fresh Bouncer database, and a
real Bouncer (gunicorn) is asked, with ``requests``, whether everyone is
still signed in: old passwords, DRF tokens, OAuth2 tokens and client secrets.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import ROOT, bouncer_server, server_database, server_env, server_prepare

pytestmark = pytest.mark.e2e

TUTORIAL = Path(__file__).resolve().parent / "tutorial"
WAYS = ("session", "page", "admin", "token", "jwt", "oauth", "basic")
TIMEOUT = 30


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def query(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows straight from a database (the server's, not the test process's)."""
    if _is_postgres(db_url):
        import psycopg

        with psycopg.connect(db_url) as conn:
            return conn.execute(sql, params).fetchall()
    with sqlite3.connect(urlsplit(db_url).path) as conn:
        return conn.execute(sql.replace("%s", "?"), params).fetchall()


def password_hash(db_url: str, username: str) -> str:
    return query(db_url, "SELECT password FROM users_user WHERE username = %s", (username,))[0][0]


def table_counts(db_url: str) -> dict[str, int]:
    tables = ("users_user", "tokens_devicetoken", "oauth2_provider_application", "oauth2_provider_accesstoken",
              "oauth2_provider_refreshtoken", "audit_auditevent")
    return {table: query(db_url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in tables}


def run_import(env: dict, source: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "bouncer_import", "--source", source, *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    base = os.environ.get("DATABASE_URL", "")
    tmp = tmp_path_factory.mktemp("migrating")
    with server_database(base, tmp, prefix="bouncer_migrating_src") as source, server_database(base, tmp, prefix="bouncer_migrating") as target:
        build_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_URL"))}
        # The old stack is built while Bouncer's database is migrated: two processes, two databases.
        build = subprocess.Popen(
            [sys.executable, "build.py"], cwd=TUTORIAL, env={**build_env, "TUTORIAL_DATABASE_URL": source},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        local = tmp / "bouncer-local"
        local.mkdir()
        env = server_env(db_url=target, local_dir=local, BOUNCER_BASIC_AUTH="1")
        try:
            server_prepare(env)
            stdout, stderr = build.communicate(timeout=600)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
        assert build.returncode == 0, stderr[-3000:]
        old = json.loads(stdout.strip().splitlines()[-1])
        before = table_counts(target)
        refused = run_import(env, source)
        after_refused = table_counts(target)
        dry = run_import(env, source, "--skip-collisions", "--dry-run", "--json")
        after_dry = table_counts(target)
        first = run_import(env, source, "--skip-collisions", "--json")
        assert first.returncode == 0, first.stderr
        with bouncer_server(env) as url:
            yield {
                "url": url, "old": old, "source": source, "db": target, "env": env, "before": before,
                "refused": refused, "after_refused": after_refused, "dry": dry, "after_dry": after_dry,
                "first": json.loads(first.stdout),
            }


def get(moved, path: str, **kwargs) -> requests.Response:
    return requests.get(f"{moved['url']}{path}", timeout=TIMEOUT, **kwargs)


def post(moved, path: str, **kwargs) -> requests.Response:
    return requests.post(f"{moved['url']}{path}", timeout=TIMEOUT, **kwargs)


def profile(moved, authorization: str) -> requests.Response:
    return get(moved, "/api/accounts/profile/", headers={"Authorization": authorization})


# --- the run itself --------------------------------------------------------------


def test_collision_refuses_the_whole_import_with_a_clear_report(moved):
    refused = moved["refused"]
    assert refused.returncode == 1
    assert "import refused" in refused.stderr and "Traceback" not in refused.stderr
    assert "'Carol'" in refused.stderr and "'carol'" in refused.stderr  # two old users, one Bouncer name
    assert "'erin'" in refused.stderr and "'erin2'" in refused.stderr  # one address in two spellings
    assert moved["after_refused"] == moved["before"]  # all or nothing: nothing


def test_dry_run_reports_the_counts_and_writes_nothing(moved):
    dry = moved["dry"]
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["counts"] == moved["first"]["counts"]
    assert moved["after_dry"] == moved["before"]


def test_first_run_imports_everyone_but_the_collisions(moved):
    counts = moved["first"]["counts"]
    assert counts["users"]["imported"] == 10 and counts["users"]["skipped: collision"] == 4
    assert counts["DRF tokens"] == {"imported": 1, "skipped: its user is inactive": 1, "skipped: its user was not imported": 1}
    assert counts["OAuth2 applications"]["imported"] == 3
    warnings = "\n".join(moved["first"]["warnings"])
    assert "MobileApp" in warnings and "posture error" in warnings
    audit = query(moved["db"], "SELECT COUNT(*) FROM audit_auditevent WHERE action = 'accounts_imported'")[0][0]
    assert audit == 1


def test_rerun_imports_nothing_new(moved):
    before = table_counts(moved["db"])
    again = run_import(moved["env"], moved["source"], "--skip-collisions", "--json")
    assert again.returncode == 0, again.stderr
    counts = json.loads(again.stdout)["counts"]
    assert not any(outcome.startswith("imported") for outcomes in counts.values() for outcome in outcomes), counts
    assert counts["users"]["already present"] == 10
    assert table_counts(moved["db"]) == before


# --- passwords ---------------------------------------------------------------------


def _csrf_form(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=TIMEOUT)
    assert page.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def sign_in(moved, way: str, username: str, password: str) -> requests.Response:
    """One sign-in by ``way``: the answer that proves it worked."""
    url, old = moved["url"], moved["old"]
    if way == "session":
        return post(moved, "/api/accounts/login/", json={"username": username, "password": password})
    if way in ("page", "admin"):
        browser = requests.Session()
        token = _csrf_form(browser, f"{url}/accounts/login/")
        target = "/accounts/login/" if way == "page" else "/admin/login/"
        answer = browser.post(f"{url}{target}", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                              allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 302, answer.text[:500]
        return browser.get(f"{url}/accounts/sessions/" if way == "page" else f"{url}/admin/", timeout=TIMEOUT, allow_redirects=False)
    if way == "token":
        return post(moved, "/api/auth-token/", json={"username": username, "password": password})
    if way == "jwt":
        return post(moved, "/api/token/", json={"username": username, "password": password})
    if way == "oauth":
        client = old["oauth"]["confidential"]
        return post(moved, "/o/token/", data={"grant_type": "password", "username": username, "password": password},
                    auth=(client["client_id"], client["client_secret"]))
    if way == "basic":
        return profile(moved, "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode())
    raise AssertionError(way)


@pytest.mark.parametrize("way", WAYS)
def test_old_password_signs_in_and_is_rehashed_with_argon2id(moved, way):
    username = "staffer" if way == "admin" else f"way_{way}"
    assert password_hash(moved["db"], username).startswith("pbkdf2_sha256$")
    answer = sign_in(moved, way, username, moved["old"]["password"])
    assert answer.status_code == 200, answer.text[:500]
    assert password_hash(moved["db"], username).startswith("argon2$argon2id$")
    # The re-hash is not a password change: nothing the user held was revoked by it.
    assert sign_in(moved, way, username, moved["old"]["password"]).status_code == 200


def test_wrong_password_is_still_refused_after_the_move(moved):
    answer = sign_in(moved, "session", "way_jwt", "not-the-password")
    assert answer.status_code in (400, 401)
    assert password_hash(moved["db"], "way_jwt").startswith(("pbkdf2_sha256$", "argon2$"))


# --- DRF tokens ---------------------------------------------------------------------


def test_old_drf_token_works_is_listed_as_imported_and_stored_hashed(moved):
    key = moved["old"]["drf"]["way_session"]
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    answer = profile(moved, f"Token {key}")
    assert answer.status_code == 200 and answer.json()["username"] == "way_session"

    listed = get(moved, "/api/accounts/sessions/", headers={"Authorization": f"Token {key}"})
    assert listed.status_code == 200
    mine = [row for row in listed.json()["results"] if row["current"]]
    assert [(row["kind"], row["device"]) for row in mine] == [("token", "imported")]
    assert key not in listed.text

    digest = hashlib.sha256(key.encode()).hexdigest()
    assert query(moved["db"], "SELECT COUNT(*) FROM tokens_devicetoken WHERE digest = %s", (digest,))[0][0] == 1
    rows = query(moved["db"], "SELECT digest, prefix, device_name FROM tokens_devicetoken")
    assert not any(key in " ".join(map(str, row)) for row in rows)
    if not _is_postgres(moved["db"]):  # no copy anywhere in the file (or its WAL)
        path = Path(urlsplit(moved["db"]).path)
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                assert key.encode() not in part.read_bytes()


def test_imported_drf_token_is_revoked_like_any_other(moved):
    # A second imported token would need a second old user with a key: revoke this one last.
    key = moved["old"]["drf"]["way_session"]
    headers = {"Authorization": f"Token {key}"}
    mine = [row for row in get(moved, "/api/accounts/sessions/", headers=headers).json()["results"] if row["current"]]
    assert requests.delete(f"{moved['url']}/api/accounts/sessions/{mine[0]['id']}/", headers=headers, timeout=TIMEOUT).status_code == 204
    gone = profile(moved, f"Token {key}")
    assert gone.status_code == 401 and gone.json()["code"] == "token_invalid"


# --- OAuth2 -------------------------------------------------------------------------


def test_old_oauth_access_token_works_on_the_profile(moved):
    client = moved["old"]["oauth"]["confidential"]
    answer = profile(moved, f"Bearer {client['access_token']}")
    assert answer.status_code == 200 and answer.json()["username"] == "way_oauth"
    stored = query(moved["db"], "SELECT token, token_checksum FROM oauth2_provider_accesstoken")
    assert all(token == "" for token, _ in stored)
    assert hashlib.sha256(client["access_token"].encode()).hexdigest() in {checksum for _, checksum in stored}


def test_old_refresh_token_refreshes_with_the_old_client_secret(moved):
    client = moved["old"]["oauth"]["confidential"]
    refreshed = post(moved, "/o/token/", data={"grant_type": "refresh_token", "refresh_token": client["refresh_token"]},
                     auth=(client["client_id"], client["client_secret"]))
    assert refreshed.status_code == 200, refreshed.text
    assert profile(moved, f"Bearer {refreshed.json()['access_token']}").json()["username"] == "way_oauth"
    # Rotated: the old one is spent, as for any Bouncer refresh token.
    again = post(moved, "/o/token/", data={"grant_type": "refresh_token", "refresh_token": client["refresh_token"]},
                 auth=(client["client_id"], client["client_secret"]))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_old_client_credentials_still_authenticate(moved):
    service = moved["old"]["oauth"]["service"]
    issued = post(moved, "/o/token/", data={"grant_type": "client_credentials"}, auth=(service["client_id"], service["client_secret"]))
    assert issued.status_code == 200, issued.text
    wrong = post(moved, "/o/token/", data={"grant_type": "client_credentials"}, auth=(service["client_id"], "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    stored = query(moved["db"], "SELECT client_secret FROM oauth2_provider_application WHERE client_id = %s", (service["client_id"],))[0][0]
    assert stored.startswith("pbkdf2_sha256$") and service["client_secret"] not in stored


def test_public_password_client_keeps_its_tokens_but_signs_in_no_one_by_password(moved):
    public = moved["old"]["oauth"]["public"]
    assert profile(moved, f"Bearer {public['access_token']}").json()["username"] == "publicuser"
    refreshed = post(moved, "/o/token/", data={"grant_type": "refresh_token", "refresh_token": public["refresh_token"], "client_id": public["client_id"]})
    assert refreshed.status_code == 200, refreshed.text
    grant = post(moved, "/o/token/", data={"grant_type": "password", "username": "publicuser", "password": moved["old"]["password"], "client_id": public["client_id"]})
    assert grant.status_code == 400 and grant.json()["error"] == "unauthorized_client"
    row = query(moved["db"], "SELECT client_type, authorization_grant_type FROM oauth2_provider_application WHERE client_id = %s", (public["client_id"],))
    assert row == [("public", "authorization-code")]


# --- what does not carry over (docs/migrating.md says so) ----------------------------


def test_old_session_cookie_and_simplejwt_tokens_are_not_accepted(moved):
    old = moved["old"]
    assert get(moved, "/api/accounts/profile/", cookies={"sessionid": old["session_cookie"]}).status_code == 401
    assert profile(moved, f"Bearer {old['jwt']['access']}").status_code == 401
    assert post(moved, "/api/token/refresh/", json={"refresh": old["jwt"]["refresh"]}).status_code in (400, 401)


# --- attacks ------------------------------------------------------------------------


def test_imported_staff_keeps_no_more_privilege_than_it_had(moved):
    rows = dict(
        (username, (bool(staff), bool(superuser)))
        for username, staff, superuser in query(moved["db"], "SELECT username, is_staff, is_superuser FROM users_user")
    )
    assert rows["staffer"] == (True, False) and rows["root"] == (True, True)
    assert all(flags == (False, False) for name, flags in rows.items() if name not in ("staffer", "root"))
    assert query(moved["db"], "SELECT COUNT(*) FROM users_user_groups")[0][0] == 0
    assert query(moved["db"], "SELECT COUNT(*) FROM users_user_user_permissions")[0][0] == 0
    # Staff without a single permission: the admin opens, every model in it is refused.
    browser = requests.Session()
    token = _csrf_form(browser, f"{moved['url']}/accounts/login/")
    browser.post(f"{moved['url']}/admin/login/", data={"username": "staffer", "password": moved["old"]["password"], "csrfmiddlewaretoken": token}, timeout=TIMEOUT)
    assert browser.get(f"{moved['url']}/admin/users/user/", timeout=TIMEOUT, allow_redirects=False).status_code == 403
    assert browser.get(f"{moved['url']}/admin/oauth2_provider/application/", timeout=TIMEOUT, allow_redirects=False).status_code == 403


def test_inactive_user_stays_unable_to_sign_in(moved):
    password = moved["old"]["password"]
    for way in ("session", "token", "jwt", "oauth", "basic"):
        answer = sign_in(moved, way, "gone", password)
        assert answer.status_code in (400, 401, 403), (way, answer.status_code)
        assert "token" not in answer.json() and "access" not in answer.json() and "access_token" not in answer.json()


def test_tokens_of_an_inactive_user_are_refused(moved):
    old = moved["old"]
    assert profile(moved, f"Token {old['drf']['gone']}").status_code == 401
    assert profile(moved, f"Bearer {old['oauth']['confidential']['gone_access_token']}").status_code == 401


def test_token_of_a_user_left_out_for_a_collision_is_refused(moved):
    assert profile(moved, f"Token {moved['old']['drf']['Carol']}").status_code == 401
