"""gunicorn.conf.py read with a given environment: TLS settings and whose forwarding headers count.

The end-to-end proof (a real gunicorn, a peer around the proxy) is in
tests/e2e/test_first_deploy.py; here each rule of the file is run directly.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import trustme

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
FORWARDING = [("X-FORWARDED-FOR", "198.51.100.7"), ("X-FORWARDED-PROTO", "https"), ("FORWARDED", "for=198.51.100.7;proto=https"),
              ("X-REAL-IP", "198.51.100.7"), ("X-FORWARDED-HOST", "evil.example")]
OTHERS = [("HOST", "auth.example.com"), ("COOKIE", "a=b"), ("X-REQUEST-ID", "r-1")]


def conf(monkeypatch, **env: str) -> dict:
    for name in ("BOUNCER_TLS_CERTFILE", "BOUNCER_TLS_KEYFILE", "BOUNCER_BEHIND_PROXY", "BOUNCER_FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def headers_after(settings: dict, peer) -> list[tuple[str, str]]:
    request = SimpleNamespace(headers=FORWARDING + OTHERS, peer_addr=peer, method="GET", path="/")
    settings["pre_request"](SimpleNamespace(log=SimpleNamespace(debug=lambda *args: None)), request)
    return request.headers


def test_plain_http_without_tls_settings(monkeypatch):
    settings = conf(monkeypatch)
    assert settings["certfile"] is None and settings["keyfile"] is None


def certificate(tmp_path: Path, name: str) -> tuple[str, str]:
    """A throw-away certificate chain and its key, as files: (chain, key)."""
    issued = trustme.CA().issue_cert("auth.example.com")
    chain, key = tmp_path / f"{name}-fullchain.pem", tmp_path / f"{name}-privkey.pem"
    chain.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    return str(chain), str(key)


def test_tls_with_both_files(monkeypatch, tmp_path):
    chain, key = certificate(tmp_path, "a")
    settings = conf(monkeypatch, BOUNCER_TLS_CERTFILE=chain, BOUNCER_TLS_KEYFILE=key)
    assert settings["certfile"] == chain and settings["keyfile"] == key


def test_a_key_that_is_not_the_certificates_stops_the_start(monkeypatch, tmp_path):
    chain, _ = certificate(tmp_path, "a")
    _, other_key = certificate(tmp_path, "b")
    with pytest.raises(SystemExit, match="BOUNCER_TLS_CERTFILE=.* / BOUNCER_TLS_KEYFILE=.* cannot be used"):
        conf(monkeypatch, BOUNCER_TLS_CERTFILE=chain, BOUNCER_TLS_KEYFILE=other_key)


def test_a_missing_certificate_file_stops_the_start(monkeypatch, tmp_path):
    _, key = certificate(tmp_path, "a")
    with pytest.raises(SystemExit, match="No such file"):
        conf(monkeypatch, BOUNCER_TLS_CERTFILE=str(tmp_path / "missing.pem"), BOUNCER_TLS_KEYFILE=key)


@pytest.mark.parametrize("given", ["BOUNCER_TLS_CERTFILE", "BOUNCER_TLS_KEYFILE"])
def test_one_tls_file_without_the_other_is_refused(monkeypatch, given):
    with pytest.raises(SystemExit, match="BOUNCER_TLS_CERTFILE and BOUNCER_TLS_KEYFILE go together"):
        conf(monkeypatch, **{given: "/run/secrets/tls/file.pem"})


def test_a_forwarded_allow_ips_entry_that_is_no_address_is_refused(monkeypatch):
    with pytest.raises(SystemExit, match="BOUNCER_FORWARDED_ALLOW_IPS: 'proxy.internal'"):
        conf(monkeypatch, BOUNCER_BEHIND_PROXY="1", BOUNCER_FORWARDED_ALLOW_IPS="10.0.0.2, proxy.internal")


def test_behind_a_proxy_its_forwarding_headers_pass(monkeypatch):
    settings = conf(monkeypatch, BOUNCER_BEHIND_PROXY="1", BOUNCER_FORWARDED_ALLOW_IPS="10.0.0.2, 10.1.0.0/16, fd00::/8")
    assert settings["forwarded_allow_ips"] == "10.0.0.2, 10.1.0.0/16, fd00::/8"
    for peer in (("10.0.0.2", 50000), ("10.1.200.3", 50000), ("fd00::7", 50000, 0, 0), ("::ffff:10.0.0.2", 50000, 0, 0),
                 "/run/bouncer.sock"):
        assert headers_after(settings, peer) == FORWARDING + OTHERS, peer


def test_behind_a_proxy_any_other_peers_forwarding_headers_are_dropped(monkeypatch):
    settings = conf(monkeypatch, BOUNCER_BEHIND_PROXY="1", BOUNCER_FORWARDED_ALLOW_IPS="10.0.0.2,10.1.0.0/16")
    for peer in (("10.0.0.3", 50000), ("10.2.0.1", 50000), ("127.0.0.1", 50000), ("::ffff:192.0.2.1", 50000, 0, 0), ("not-an-ip", 1)):
        assert headers_after(settings, peer) == OTHERS, peer


def test_without_a_proxy_nobody_forwards(monkeypatch):
    settings = conf(monkeypatch, BOUNCER_FORWARDED_ALLOW_IPS="127.0.0.1")  # ignored: BOUNCER_BEHIND_PROXY is off
    assert settings["forwarded_allow_ips"] == ""
    for peer in (("127.0.0.1", 50000), "/run/bouncer.sock"):
        assert headers_after(settings, peer) == OTHERS, peer


def test_a_star_trusts_every_peer(monkeypatch):
    settings = conf(monkeypatch, BOUNCER_BEHIND_PROXY="1", BOUNCER_FORWARDED_ALLOW_IPS="*")
    assert headers_after(settings, ("192.0.2.1", 50000)) == FORWARDING + OTHERS
