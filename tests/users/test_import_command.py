"""``manage.py bouncer_import`` in-process: wrong sources, collisions, all or nothing, reruns.

The old database here is a SQLite file with the tables a stock Django install
creates (``auth_user``, DRF's ``authtoken_token``), written with plain SQL so
each case holds exactly the rows it needs. The full move, from a database
built by the tutorial's own project to a running Bouncer, is
tests/migrating/test_import.py.
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import CommandError, call_command

from bouncer.audit.models import AuditAction, AuditEvent
from bouncer.tokens.opaque.imports import DrfTokensImport
from bouncer.tokens.opaque.models import DeviceToken
from bouncer.users.models import User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

AUTH_USER = """CREATE TABLE auth_user (
    id integer PRIMARY KEY AUTOINCREMENT, password varchar(128) NOT NULL, last_login datetime NULL,
    is_superuser bool NOT NULL, username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL,
    last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff bool NOT NULL, is_active bool NOT NULL,
    date_joined datetime NOT NULL)"""
AUTHTOKEN = """CREATE TABLE authtoken_token (
    key varchar(40) NOT NULL PRIMARY KEY, created datetime NOT NULL, user_id integer NOT NULL UNIQUE)"""
OLD_HASH = make_password("testpass123", hasher="pbkdf2_sha256")


def old_database(path, users, tokens=()):
    with sqlite3.connect(path) as conn:
        conn.execute(AUTH_USER)
        conn.execute(AUTHTOKEN)
        for n, user in enumerate(users, start=1):
            row = {"password": OLD_HASH, "email": "", "is_staff": 0, "is_superuser": 0, "is_active": 1, **user}
            conn.execute(
                "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email,"
                " is_staff, is_active, date_joined) VALUES (?, ?, NULL, ?, ?, '', '', ?, ?, ?, ?)",
                (n, row["password"], row["is_superuser"], row["username"], row["email"], row["is_staff"], row["is_active"],
                 f"2025-01-0{n % 9 + 1} 10:00:00.{n:06d}"),
            )
        for key, user_id in tokens:
            conn.execute("INSERT INTO authtoken_token VALUES (?, '2025-02-01 10:00:00', ?)", (key, user_id))
    return f"sqlite:///{path}"


def run(source, *args):
    return call_command("bouncer_import", "--source", source, *args)


# --- wrong sources: a clear error, nothing read, nothing written ------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "not a database URL"),
        ("mysql://root@127.0.0.1/old", "SQLite or PostgreSQL only"),
        ("sqlite:////nonexistent/dir/old.sqlite3", "no SQLite database file"),
        ("postgres://postgres:hunter2@127.0.0.1:1/old", "cannot read the source database"),
    ],
)
def test_wrong_or_unreachable_source_is_a_clear_error(url, message):
    with pytest.raises(CommandError) as caught:
        run(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert User.objects.count() == 0


def test_missing_sqlite_file_is_not_created(tmp_path):
    path = tmp_path / "typo.sqlite3"
    with pytest.raises(CommandError, match="no SQLite database file"):
        run(f"sqlite:///{path}")
    assert not path.exists()


def test_database_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id integer)")
    with pytest.raises(CommandError, match="no auth_user table"):
        run(f"sqlite:///{path}")


def test_source_is_opened_read_only(tmp_path):
    source = old_database(tmp_path / "old.sqlite3", [{"username": "alice"}])
    before = (tmp_path / "old.sqlite3").read_bytes()
    run(source)
    assert (tmp_path / "old.sqlite3").read_bytes() == before


# --- collisions ------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [("Carol", "carol"), ("ｆｏｏ", "foo"), ("straße", "STRASSE")])
def test_two_old_users_who_would_be_one_refuse_the_import(tmp_path, a, b):
    source = old_database(tmp_path / "old.sqlite3", [{"username": a}, {"username": b}, {"username": "bystander"}])
    with pytest.raises(CommandError) as caught:
        run(source)
    assert "collision" in str(caught.value) and repr(a) in str(caught.value) and repr(b) in str(caught.value)
    assert User.objects.count() == 0  # not even the bystander: all or nothing


def test_old_user_taking_an_existing_bouncer_name_or_address_is_refused(tmp_path):
    make_user("alice")
    source = old_database(tmp_path / "old.sqlite3", [{"username": "ALICE"}, {"username": "mallory", "email": "Alice@Example.com"}])
    with pytest.raises(CommandError) as caught:
        run(source)
    assert "collides with Bouncer user" in str(caught.value) and "has the email of Bouncer user" in str(caught.value)
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]


def test_skip_collisions_leaves_them_and_their_tokens_out(tmp_path, capsys):
    source = old_database(
        tmp_path / "old.sqlite3", [{"username": "Carol"}, {"username": "carol"}, {"username": "dave"}],
        tokens=[("a" * 40, 1), ("b" * 40, 3)],
    )
    run(source, "--skip-collisions")
    assert list(User.objects.values_list("username", flat=True)) == ["dave"]
    assert list(DeviceToken.objects.values_list("user__username", flat=True)) == ["dave"]
    out = capsys.readouterr().out
    assert "2 skipped: collision" in out and "skipped: its user was not imported" in out


# --- all or nothing, reruns, dry runs ------------------------------------------------------


def test_a_failing_step_rolls_back_every_step(tmp_path, monkeypatch):
    source = old_database(tmp_path / "old.sqlite3", [{"username": "alice"}], tokens=[("c" * 40, 1)])

    def broken(self, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(DrfTokensImport, "run", broken)
    with pytest.raises(CommandError, match="nothing was written"):
        run(source)
    assert User.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_dry_run_writes_nothing_and_rerun_changes_nothing(tmp_path, capsys):
    key = "d" * 40
    source = old_database(tmp_path / "old.sqlite3", [{"username": "alice", "is_staff": 1}], tokens=[(key, 1)])
    run(source, "--dry-run")
    assert "1 imported" in capsys.readouterr().out
    assert User.objects.count() == 0 and DeviceToken.objects.count() == 0 and AuditEvent.objects.count() == 0

    run(source)
    alice = User.objects.get()
    assert (alice.is_staff, alice.is_superuser, alice.password) == (True, False, OLD_HASH)
    token = DeviceToken.objects.get()
    assert (token.digest, token.device_name) == (hashlib.sha256(key.encode()).hexdigest(), "imported")
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNTS_IMPORTED).count() == 1

    run(source)
    assert "already present" in capsys.readouterr().out
    assert (User.objects.count(), DeviceToken.objects.count(), AuditEvent.objects.count()) == (1, 1, 1)


def test_hashes_bouncer_cannot_verify_are_reported_and_blank_passwords_disabled(tmp_path, capsys):
    source = old_database(
        tmp_path / "old.sqlite3",
        [{"username": "legacy", "password": "bcrypt$$2b$12$abcdefghijklmnopqrstuu"}, {"username": "nopass", "password": ""}],
    )
    run(source)
    out = capsys.readouterr().out
    assert "must reset their password" in out and "legacy" in out
    assert not User.objects.get(username="nopass").has_usable_password()


def test_keys_no_header_could_carry_are_skipped(tmp_path, capsys):
    source = old_database(tmp_path / "old.sqlite3", [{"username": "alice"}, {"username": "bob"}], tokens=[("x" * 65, 1), ("ключ" * 10, 2)])
    run(source)
    assert DeviceToken.objects.count() == 0
    assert "2 skipped: not a key Bouncer accepts" in capsys.readouterr().out


# --- the other steps on sources of other shapes --------------------------------------------


def test_simplejwt_outstanding_tokens_are_counted_not_imported(tmp_path, capsys):
    path = tmp_path / "old.sqlite3"
    source = old_database(path, [{"username": "alice"}])
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE token_blacklist_outstandingtoken (id integer PRIMARY KEY, jti varchar(255), token text,"
                     " created_at datetime, expires_at datetime NOT NULL, user_id integer)")
        conn.execute("INSERT INTO token_blacklist_outstandingtoken VALUES (1, 'a', 'eyJ...', '2025-01-01 00:00:00', '2999-01-01 00:00:00', 1)")
        conn.execute("INSERT INTO token_blacklist_outstandingtoken VALUES (2, 'b', 'eyJ...', '2025-01-01 00:00:00', '2025-01-02 00:00:00', 1)")
    run(source)
    assert "simplejwt refresh tokens: 1 not imported (clients sign in again)" in capsys.readouterr().out


def test_old_toolkit_application_with_a_plain_secret_and_implicit_grant_is_made_safe(tmp_path, capsys):
    """An older django-oauth-toolkit: no hash_client_secret or algorithm column, the secret in plain text."""
    from django.contrib.auth.hashers import check_password
    from oauth2_provider.models import get_application_model

    path = tmp_path / "old.sqlite3"
    source = old_database(path, [{"username": "alice"}])
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE oauth2_provider_application (id integer PRIMARY KEY, client_id varchar(100), client_secret varchar(255),"
                     " name varchar(255), client_type varchar(32), authorization_grant_type varchar(32), redirect_uris text,"
                     " skip_authorization bool, user_id integer, created datetime)")
        conn.execute("INSERT INTO oauth2_provider_application VALUES (1, 'legacy-spa', 'plain-old-secret', 'Legacy SPA', 'confidential',"
                     " 'implicit', 'https://spa.example.com/cb', 0, 1, '2024-05-01 00:00:00')")
    run(source)
    application = get_application_model().objects.get(client_id="legacy-spa")
    assert application.authorization_grant_type == "authorization-code"
    assert application.client_secret != "plain-old-secret" and check_password("plain-old-secret", application.client_secret)
    assert application.user.username == "alice"
    out = capsys.readouterr().out
    assert "'legacy-spa'" in out and "plain text" in out and "'implicit' is not offered" in out


def test_rerun_never_brings_back_a_token_revoked_since(tmp_path, capsys):
    """The first run imported alice's DRF token; she signed out everywhere in Bouncer.
    Running the import again (the old stack still has the key) must not revive it."""
    from rest_framework.test import APIClient

    from bouncer.core import credentials

    key = "e" * 40
    source = old_database(tmp_path / "old.sqlite3", [{"username": "alice"}], tokens=[(key, 1)])
    run(source)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/accounts/profile/").status_code == 200
    credentials.credential_revoke_all(user=User.objects.get(), request=None, reason=credentials.SIGNED_OUT_BY_ADMIN)
    assert client.get("/api/accounts/profile/").status_code == 401

    run(source)
    assert client.get("/api/accounts/profile/").status_code == 401
    assert DeviceToken.objects.count() == 0
    assert "skipped: its user was imported by an earlier run" in capsys.readouterr().out
