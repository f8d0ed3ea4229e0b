"""The helpers written once in bouncer/core: SHA-256 digests and owner-only files."""

from __future__ import annotations

import os
import stat

import pytest

from bouncer.core.digests import sha256_hex
from bouncer.core.files import file_write_owner_only


def test_sha256_hex_matches_the_toolkits_access_token_checksum(db, user):
    from oauth2_provider.models import AccessToken, Application

    app = Application.objects.create(name="x", client_type="confidential", authorization_grant_type="password")
    token = AccessToken.objects.create(user=user, application=app, token="raw-token-value", expires="2099-01-01T00:00Z")
    assert AccessToken.objects.get(token_checksum=sha256_hex("raw-token-value")) == token


def test_sha256_hex_is_the_digest_every_token_store_uses():
    import hashlib

    from bouncer.oauth.validators import checksum
    from bouncer.tokens.opaque.models import token_digest

    assert token_digest("k3y") == checksum("k3y") == sha256_hex("k3y") == hashlib.sha256(b"k3y").hexdigest()


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_owner_only_file_is_0600_whatever_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = tmp_path / "nested" / "secret"
        file_write_owner_only(path, "s3cret")
    finally:
        os.umask(previous)
    assert path.read_text() == "s3cret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_owner_only_replace_leaves_no_temporary_file_and_keeps_0600(tmp_path):
    path = tmp_path / "ring.json"
    path.write_text("old")
    path.chmod(0o644)
    file_write_owner_only(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ring.json"]


def test_owner_only_exclusive_never_overwrites(tmp_path):
    path = tmp_path / "secret_key"
    file_write_owner_only(path, "first", exclusive=True)
    with pytest.raises(FileExistsError):
        file_write_owner_only(path, "second", exclusive=True)
    assert path.read_text() == "first"
