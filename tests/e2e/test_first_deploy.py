"""docs/deployment.md's first deploy, run as written, then used as its first users would.

The guide's shell block runs line by line in bash on a fresh PostgreSQL
database and Redis, in production mode: its exports as written except the
host names and service URLs (``auth.example.com``, ``db``, ``redis``), its
``/run/secrets/`` files laid in a temporary folder (a throw-away CA and
certificate from trustme, the secret key, the admin password), then gunicorn
with the shipped gunicorn.conf.py serving HTTPS itself. Every sign-in kind is
then used over HTTPS with clients that verify the certificate against that
CA. The proxy variant (the guide's second block) runs a second node on the
same database over plain HTTP behind a "proxy" on 127.0.0.1.

A production deploy is PostgreSQL and Redis, so this module needs them on
both CI passes: on the SQLite pass (no DATABASE_URL) it uses CI_DATABASE_URL /
CI_REDIS_URL as .ci/run does, else this machine's services on 127.0.0.1. It
skips when they cannot be reached only outside CI.

The server gets test-only settings on top of the guide's: its address and
worker count, an empty local folder, and sign-in throttles raised for the
one address every request comes from (the throttles are tested in-process
and, through the proxy, below).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import jwt
import pyotp
import pytest
import requests
import trustme
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import ROOT, _postgres_admin, free_port
from tests.e2e.oauth_support import Forms, answer_consent, consent_page, hidden_fields, sign_in_page

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "deploy-admin-" + secrets.token_urlsafe(12)
PASSWORD = "deploy-user-pass-73"
GUIDE_REDIRECT = "https://app.example.com/callback"  # the guide's client's redirect URI, used as written
HOST = "127.0.0.1"


# --- the guide ------------------------------------------------------------------------


def guide_blocks() -> list[str]:
    """The ```sh blocks of docs/deployment.md: [the first deploy, the proxy variant]."""
    text = (ROOT / "docs/deployment.md").read_text()
    return [part.split("```", 1)[0] for part in text.split("```sh\n")[1:]]


def block_lines(block: str) -> list[str]:
    """Its lines without comments and blank lines (the guide's comments never hold a quoted #)."""
    lines = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def guide_commands() -> list[str]:
    """The first block's commands, as bash lines (exports and pip left out)."""
    return [line for line in block_lines(guide_blocks()[0]) if not line.startswith(("export ", "pip "))]


def command_name(line: str) -> str:
    words = [word for word in shlex.split(line) if not re.match(r"^[A-Z_]+=", word)]
    return " ".join(words[:3])


def exports(block: str) -> dict[str, str]:
    values = {}
    for line in block_lines(block):
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            values[name] = " ".join(shlex.split(value))
    return values


def unsets(block: str) -> list[str]:
    return [name for line in block_lines(block) if line.startswith("unset ") for name in line.split()[1:]]


# --- services: PostgreSQL and Redis, on both CI passes --------------------------------------


def _postgres_base() -> str:
    for url in (os.environ.get("DATABASE_URL", ""), os.environ.get("CI_DATABASE_URL", "")):
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get("CI_REDIS_URL") or "redis://127.0.0.1:6379/13"


def _reachable_or_skip(base: str, redis_url: str) -> None:
    import psycopg
    import redis

    try:
        _postgres_admin(base).close()
        redis.Redis.from_url(redis_url, socket_timeout=5).ping()
    except (psycopg.OperationalError, redis.exceptions.ConnectionError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"a production deploy needs PostgreSQL and Redis on 127.0.0.1: {exc}")


def _fresh_database(base: str) -> tuple[str, str]:
    """(URL, name) of a new database beside the base's (bouncer_ci → bouncer_ci_deploy_<hex>)."""
    stem = urlsplit(base).path.strip("/") or "postgres"
    name = f"{'bouncer' if stem == 'postgres' else stem}_deploy_{secrets.token_hex(4)}"
    with _postgres_admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}")), name


# --- HTTP helpers --------------------------------------------------------------------------


def set_cookies(response: requests.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of a response, by name: its value and attributes (lower-cased names)."""
    cookies = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        parsed: dict[str, str | bool] = {"value": value}
        for attribute in attributes:
            key, sep, val = attribute.partition("=")
            parsed[key.lower()] = val if sep else True
        cookies[name] = parsed
    return cookies


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, **kwargs) -> requests.Response:
    deadline = time.monotonic() + 90
    while True:
        try:
            return requests.get(f"{url}/healthz", headers={"User-Agent": 'probe "1"'}, timeout=2, **kwargs)
        except (requests.ConnectionError, requests.Timeout):  # not listening yet
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def raw_get(port: int, path: str, *, source: str, headers: dict) -> http.client.HTTPResponse:
    """A plain-HTTP request from a chosen loopback address (127.0.0.2: a peer that is not the proxy)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(source, 0))
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def raw_post_json(port: int, path: str, body: dict, *, source: str, headers: dict) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(source, 0))
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


# --- the deploy --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The guide run as written on fresh services; gunicorn serving HTTPS. Yields what a test needs."""
    base, redis_url = _postgres_base(), _redis_url()
    _reachable_or_skip(base, redis_url)
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # a fresh Redis (a test database: the suite flushes it too)

    tmp = tmp_path_factory.mktemp("deploy")
    secrets_dir = tmp / "secrets"  # the guide's /run/secrets/
    (secrets_dir / "tls").mkdir(parents=True)
    (secrets_dir / "bouncer_secret_key").write_text(secrets.token_urlsafe(60))
    (secrets_dir / "bouncer_admin_password").write_text(ADMIN_PASSWORD + "\n")
    ca = trustme.CA()
    certificate = ca.issue_cert(HOST, "localhost")
    certificate.private_key_pem.write_to_path(str(secrets_dir / "tls/privkey.pem"))
    for index, pem in enumerate(certificate.cert_chain_pems):  # the full chain, server certificate first
        pem.write_to_path(str(secrets_dir / "tls/fullchain.pem"), append=index > 0)
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    local = tmp / "local"  # empty: no key, no secret, nothing a development run left
    local.mkdir()

    port = free_port()
    url = f"https://{HOST}:{port}"
    db_url, db_name = _fresh_database(base)
    # What the guide's example values stand for on this machine; everything else as written.
    machine = {
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": url,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "BOUNCER_OIDC_ISSUER": f"{url}/o",
    }
    guide_env = exports(guide_blocks()[0])
    assert set(machine) <= set(guide_env), "the guide no longer sets one of these"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOUNCER_", "DJANGO_", "DATABASE_", "REDIS_", "SECRET_", "CI_"))}
    for name, value in guide_env.items():
        env[name] = machine.get(name, value.replace("/run/secrets/", f"{secrets_dir}/"))
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # `python` and `gunicorn` of this venv
        BOUNCER_LOCAL_DIR=str(local),
        BOUNCER_BIND=f"{HOST}:{port}",
        BOUNCER_WORKERS="2",
        BOUNCER_THROTTLE_LOGIN="1000/min",
        BOUNCER_THROTTLE_LOGIN_ACCOUNT="1000/min",
        BOUNCER_THROTTLE_TOKEN="1000/min",
        BOUNCER_THROTTLE_REGISTER="1000/hour",
    )

    outputs = {}
    commands = guide_commands()
    try:
        for line in commands[:-1]:
            line = line.replace("/run/secrets/", f"{secrets_dir}/")
            done = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{line}:\n{done.stdout}\n{done.stderr}"
            outputs.setdefault(command_name(line), []).append(done.stdout + done.stderr)

        log_path = tmp / "gunicorn.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(["bash", "-c", f"exec {commands[-1]}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                health = wait_until_serving(url, server, log_path, verify=str(ca_file))
                clients = [dict(re.findall(r"^(client_id|client_secret)=(\S+)$", out, re.M))
                           for out in outputs["python manage.py oauth_create_client"]]
                yield {
                    "url": url, "port": port, "ca": str(ca_file), "env": env, "tmp": tmp, "health": health,
                    "log": log_path, "outputs": outputs, "app": clients[0], "service": clients[1], "db_name": db_name,
                }
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        with _postgres_admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def verifying(session: requests.Session, ca: str) -> requests.Session:
    """``session`` trusting the throw-away CA alone (not REQUESTS_CA_BUNDLE, which would win over session.verify)."""
    session.trust_env = False
    session.verify = ca
    return session


@pytest.fixture
def browser(deployed) -> requests.Session:
    """A browser: verifies the certificate, sends Origin on its requests as a browser does on a post."""
    session = verifying(requests.Session(), deployed["ca"])
    session.headers["Origin"] = deployed["url"]
    return session


def register(deployed, username: str) -> None:
    response = requests.post(f"{deployed['url']}/api/accounts/register/", verify=deployed["ca"], timeout=10,
                             json={"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.text


# --- the guide itself ----------------------------------------------------------------------


def test_the_guide_runs_in_order_and_gunicorn_serves_https(deployed):
    assert [command_name(line) for line in guide_commands()] == [
        "python manage.py migrate",
        "python manage.py jwt_rotate_keys",
        "python manage.py oidc_rotate_keys",
        "python manage.py collectstatic",
        "python manage.py check",
        "python manage.py createsuperuser",
        "python manage.py oauth_create_client",
        "python manage.py oauth_create_client",
        "gunicorn -c gunicorn.conf.py",
    ]
    assert "WARNING" not in deployed["outputs"]["python manage.py check"][0]
    assert deployed["app"]["client_id"] and deployed["app"]["client_secret"]
    assert deployed["service"]["client_id"] and deployed["service"]["client_secret"]
    assert deployed["health"].status_code == 200

    # The OIDC key the guide's command created is the one served.
    ring = json.loads((deployed["tmp"] / "secrets/oidc_keys.json").read_text())
    jwks = requests.get(f"{deployed['url']}/o/.well-known/jwks.json", verify=deployed["ca"], timeout=5)
    assert jwks.status_code == 200
    assert [key["kid"] for key in jwks.json()["keys"]] == [ring[0]["kid"]]

    # The access log: one JSON object per request, values escaped.
    lines = [json.loads(line) for line in deployed["log"].read_text().splitlines() if line.startswith("{")]
    probe = [line for line in lines if line["path"] == "/healthz"]
    assert probe and probe[0]["status"] == 200 and probe[0]["method"] == "GET"
    assert probe[0]["user_agent"] == 'probe "1"'


def test_only_https_is_served_with_the_guides_certificate(deployed):
    url = deployed["url"]
    page = requests.get(f"{url}/", verify=deployed["ca"], timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    api = requests.get(f"{url}/api/accounts/profile/", verify=deployed["ca"], timeout=10)
    assert api.status_code in (401, 403) and api.json()["detail"]
    assert api.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert api.headers["X-Content-Type-Options"] == "nosniff"

    # A Host that is not the deploy's (ALLOWED_HOSTS): refused before any view.
    foreign_host = requests.get(f"{url}/accounts/login/", headers={"Host": "evil.example"}, verify=deployed["ca"], timeout=10)
    assert foreign_host.status_code == 400

    # Without the throw-away CA the certificate is not trusted: the clients above really verified it.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/healthz", timeout=10)
    # Nothing is answered over plain http on the port (there is no plain listener to redirect from).
    try:
        plain = requests.get(f"http://{HOST}:{deployed['port']}/healthz", timeout=10)
    except requests.ConnectionError:
        pass
    else:
        assert plain.status_code >= 400 and plain.text.strip() != '{"status": "ok"}'


# --- sessions -------------------------------------------------------------------------------


def test_session_sign_in_over_the_api_sets_host_prefixed_secure_cookies(deployed, browser):
    register(deployed, "session-api")
    url = deployed["url"]
    login = browser.post(f"{url}/api/accounts/login/", json={"username": "session-api", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    cookies = set_cookies(login)
    assert "sessionid" not in cookies and "csrftoken" not in cookies
    session, csrf = cookies["__Host-sessionid"], cookies["__Host-csrftoken"]
    for cookie in (session, csrf):
        assert cookie["secure"] is True and cookie["path"] == "/" and "domain" not in cookie
        assert cookie["samesite"] == "Lax"
    assert session.get("httponly") is True
    assert "httponly" not in csrf  # the SPA reads it (docs/deployment.md, "Cookie names")

    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).json()["username"] == "session-api"
    # A write without the CSRF token is refused and changes nothing.
    refused = browser.post(f"{url}/api/accounts/logout/", timeout=10)
    assert refused.status_code == 403
    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).status_code == 200
    out = browser.post(f"{url}/api/accounts/logout/", headers={"X-CSRFToken": browser.cookies["__Host-csrftoken"]}, timeout=10)
    assert out.status_code in (200, 204), out.text
    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).status_code in (401, 403)


def test_the_html_sign_in_page_with_its_csrf_token(deployed, browser):
    register(deployed, "session-page")
    url = deployed["url"]
    # Posted from another origin (a cross-site form): refused, no session.
    foreign = verifying(requests.Session(), deployed["ca"])
    foreign.headers["Origin"] = "https://evil.example"
    refused = sign_in_page(foreign, f"{url}/accounts/login/?next=/accounts/sessions/", username="session-page", password=PASSWORD)
    assert refused.status_code == 403
    assert "__Host-sessionid" not in set_cookies(refused)

    signed_in = sign_in_page(browser, f"{url}/accounts/login/?next=/accounts/sessions/", username="session-page", password=PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/accounts/sessions/"
    cookie = set_cookies(signed_in)["__Host-sessionid"]
    assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Lax"
    page = browser.get(f"{url}/accounts/sessions/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


# --- DRF token, JWT ---------------------------------------------------------------------------


def test_drf_token_sign_in_and_sign_out(deployed):
    register(deployed, "token-user")
    url, ca = deployed["url"], deployed["ca"]
    wrong = requests.post(f"{url}/api/auth-token/", json={"username": "token-user", "password": "not-it", "device_name": "cli"},
                          verify=ca, timeout=10)
    assert wrong.status_code in (400, 401) and "token" not in wrong.json()
    answer = requests.post(f"{url}/api/auth-token/", json={"username": "token-user", "password": PASSWORD, "device_name": "cli"},
                           verify=ca, timeout=10)
    assert answer.status_code == 200, answer.text
    auth = {"Authorization": f"Token {answer.json()['token']}"}
    assert requests.get(f"{url}/api/accounts/profile/", headers=auth, verify=ca, timeout=10).json()["username"] == "token-user"
    assert requests.post(f"{url}/api/auth-token/logout/", headers=auth, verify=ca, timeout=10).status_code in (200, 204)
    assert requests.get(f"{url}/api/accounts/profile/", headers=auth, verify=ca, timeout=10).status_code == 401


def test_jwt_bearer_verified_with_the_jwks_and_refreshed(deployed):
    register(deployed, "jwt-user")
    url, ca = deployed["url"], deployed["ca"]
    pair = requests.post(f"{url}/api/token/", json={"username": "jwt-user", "password": PASSWORD}, verify=ca, timeout=10)
    assert pair.status_code == 200, pair.text
    access, refresh = pair.json()["access"], pair.json()["refresh"]

    # Another service verifies it from the published keys (the guide's key ring), alone.
    keys = jwt.PyJWKSet.from_dict(requests.get(f"{url}/.well-known/jwks.json", verify=ca, timeout=10).json())
    kid = jwt.get_unverified_header(access)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    ring = json.loads((deployed["tmp"] / "secrets/jwt_keys.json").read_text())
    assert kid in json.dumps(ring)
    claims = jwt.decode(access, key.key, algorithms=["ES256", "RS256"], audience="bouncer-api", issuer="bouncer")
    assert claims["exp"] - claims["iat"] <= 3600

    assert requests.get(f"{url}/api/accounts/profile/", headers={"Authorization": f"Bearer {access}"}, verify=ca,
                        timeout=10).json()["username"] == "jwt-user"
    forged = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    assert requests.get(f"{url}/api/accounts/profile/", headers={"Authorization": f"Bearer {forged}"}, verify=ca,
                        timeout=10).status_code == 401
    renewed = requests.post(f"{url}/api/token/refresh/", json={"refresh": refresh}, verify=ca, timeout=10)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh"] != refresh
    assert requests.get(f"{url}/api/accounts/profile/", headers={"Authorization": f"Bearer {renewed.json()['access']}"},
                        verify=ca, timeout=10).status_code == 200


def test_jwt_cookie_mode_uses_prefixed_cookies(deployed, browser):
    register(deployed, "jwt-cookie")
    url = deployed["url"]
    foreign = browser.post(f"{url}/api/token/", json={"username": "jwt-cookie", "password": PASSWORD, "cookie": True},
                           headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and not set_cookies(foreign)

    obtained = browser.post(f"{url}/api/token/", json={"username": "jwt-cookie", "password": PASSWORD, "cookie": True}, timeout=10)
    assert obtained.status_code == 200, obtained.text
    assert "access" not in obtained.json() and "refresh" not in obtained.json()
    cookies = set_cookies(obtained)
    assert set(cookies) >= {"__Host-bouncer_access", "__Secure-bouncer_refresh"}
    assert "bouncer_access" not in cookies and "bouncer_refresh" not in cookies
    access, refresh = cookies["__Host-bouncer_access"], cookies["__Secure-bouncer_refresh"]
    assert access["secure"] is True and access["httponly"] is True and access["path"] == "/" and "domain" not in access
    assert access["samesite"] == "Lax"
    assert refresh["secure"] is True and refresh["httponly"] is True and refresh["path"] == "/api/token/"
    assert refresh["samesite"] == "Strict"

    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).json()["username"] == "jwt-cookie"
    renewed = browser.post(f"{url}/api/token/refresh/", json={}, timeout=10)
    assert renewed.status_code == 200, renewed.text
    assert set_cookies(renewed)["__Host-bouncer_access"]["value"] != access["value"]
    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).status_code == 200


# --- OAuth2 / OpenID Connect with the guide's clients ---------------------------------------------


def test_authorization_code_with_pkce_through_the_consent_page_and_a_verified_id_token(deployed, browser):
    register(deployed, "oauth-user")
    url, ca = deployed["url"], deployed["ca"]
    discovery = requests.get(f"{url}/o/.well-known/openid-configuration", verify=ca, timeout=10).json()
    assert discovery["issuer"] == f"{url}/o"
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert discovery[endpoint].startswith("https://"), endpoint

    app = deployed["app"]
    # A redirect URI the guide did not register: Bouncer shows an error itself, never sends the browser there.
    stranger = OAuth2Session(app["client_id"], redirect_uri="https://evil.example/callback", code_challenge_method="S256", scope="openid")
    evil_url, _ = stranger.create_authorization_url(discovery["authorization_endpoint"], code_verifier=generate_token(48))
    evil = consent_page(browser, url, evil_url, username="oauth-user", password=PASSWORD)
    assert evil.status_code in (200, 400) and "evil.example" not in evil.headers.get("Location", "")
    assert 'id="authorizationForm"' not in evil.text

    client = OAuth2Session(app["client_id"], app["client_secret"], redirect_uri=GUIDE_REDIRECT, code_challenge_method="S256",
                           scope="openid profile email")
    verifying(client, ca)
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    authorize, state = client.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    page = consent_page(browser, url, authorize, username="oauth-user", password=PASSWORD)
    assert "Example App" in page.text  # the guide's client, by the name it was given
    callback = answer_consent(browser, page, allow=True).headers["Location"]
    assert callback.startswith(GUIDE_REDIRECT + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert query["state"] == state and query["iss"] == discovery["issuer"]

    # The code without its verifier is refused (PKCE), then redeemed with it.
    without = requests.post(discovery["token_endpoint"], verify=ca, timeout=10, auth=(app["client_id"], app["client_secret"]),
                            data={"grant_type": "authorization_code", "code": query["code"], "redirect_uri": GUIDE_REDIRECT})
    assert without.status_code == 400
    token = client.fetch_token(discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert token["id_token"] and token["refresh_token"]

    keys = jwt.PyJWKSet.from_dict(requests.get(discovery["jwks_uri"], verify=ca, timeout=10).json())
    header = jwt.get_unverified_header(token["id_token"])
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(token["id_token"], key.key, algorithms=["RS256"], audience=app["client_id"], issuer=discovery["issuer"],
                        options={"require": ["exp", "iat", "sub", "aud", "iss"]})
    assert claims["nonce"] == nonce
    info = client.get(discovery["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"] and info.json()["preferred_username"] == "oauth-user"

    renewed = client.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert renewed["access_token"] != token["access_token"]
    assert requests.get(discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {renewed['access_token']}"},
                        verify=ca, timeout=10).status_code == 200

    # The code again (stolen from the redirect): refused, and what it issued is revoked, refreshed tokens included.
    replayed = requests.post(discovery["token_endpoint"], verify=ca, timeout=10, auth=(app["client_id"], app["client_secret"]),
                             data={"grant_type": "authorization_code", "code": query["code"], "redirect_uri": GUIDE_REDIRECT,
                                   "code_verifier": verifier})
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    for access in (token["access_token"], renewed["access_token"]):
        assert requests.get(discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"}, verify=ca,
                            timeout=10).status_code == 401

    # The guide enables no password grant: its web client is refused it, and issues nothing.
    password = requests.post(discovery["token_endpoint"], verify=ca, timeout=10, auth=(app["client_id"], app["client_secret"]),
                             data={"grant_type": "password", "username": "oauth-user", "password": PASSWORD})
    assert password.status_code in (400, 401) and password.json()["error"] in ("unauthorized_client", "unsupported_grant_type")


def test_client_credentials_with_the_guides_service_client(deployed):
    url, ca, service = deployed["url"], deployed["ca"], deployed["service"]
    wrong = requests.post(f"{url}/o/token/", data={"grant_type": "client_credentials"}, auth=(service["client_id"], "not-it"),
                          verify=ca, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    client = OAuth2Session(service["client_id"], service["client_secret"])
    verifying(client, ca)
    token = client.fetch_token(f"{url}/o/token/", grant_type="client_credentials")
    assert token["access_token"] and "refresh_token" not in token
    introspected = requests.post(f"{url}/o/introspect/", data={"token": token["access_token"]}, verify=ca, timeout=10,
                                 auth=(service["client_id"], service["client_secret"]))
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    assert introspected.json()["client_id"] == service["client_id"]
    # A machine's token is nobody's: the account API refuses it.
    profile = requests.get(f"{url}/api/accounts/profile/", headers={"Authorization": f"Bearer {token['access_token']}"},
                           verify=ca, timeout=10)
    assert profile.status_code in (401, 403)


# --- MFA, Basic, the admin -----------------------------------------------------------------------


def test_totp_second_step_after_the_deploy(deployed, browser):
    register(deployed, "mfa-user")
    url, ca = deployed["url"], deployed["ca"]
    pair = requests.post(f"{url}/api/token/", json={"username": "mfa-user", "password": PASSWORD}, verify=ca, timeout=10).json()
    auth = {"Authorization": f"Bearer {pair['access']}"}
    begun = requests.post(f"{url}/api/auth/mfa/totp/", json={}, headers=auth, verify=ca, timeout=10)
    assert begun.status_code == 200, begun.text
    app = pyotp.TOTP(begun.json()["secret"])
    confirmed_at = time.time()
    confirmed = requests.post(f"{url}/api/auth/mfa/totp/confirm/", json={"setup_id": begun.json()["setup_id"], "code": app.now()},
                              headers=auth, verify=ca, timeout=10)
    assert confirmed.status_code == 201, confirmed.text

    first = browser.post(f"{url}/api/accounts/login/", json={"username": "mfa-user", "password": PASSWORD}, timeout=10)
    assert first.status_code == 401 and first.json()["code"] == "mfa_required"
    assert "__Host-sessionid" not in set_cookies(first)
    mfa_token = first.json()["mfa_token"]
    wrong_code = f"{(int(app.at(confirmed_at + 30)) + 1) % 1_000_000:06d}"
    wrong = browser.post(f"{url}/api/auth/mfa/authenticate/", json={"mfa_token": mfa_token, "code": wrong_code}, timeout=10)
    assert wrong.status_code == 400 and "__Host-sessionid" not in set_cookies(wrong)
    # The next period's code (one period of tolerance): the one used to confirm is spent.
    done = browser.post(f"{url}/api/auth/mfa/authenticate/", json={"mfa_token": mfa_token, "code": app.at(confirmed_at + 30)},
                        timeout=10)
    assert done.status_code == 200, done.text
    cookie = set_cookies(done)["__Host-sessionid"]
    assert cookie["secure"] is True and cookie["httponly"] is True
    assert browser.get(f"{url}/api/accounts/profile/", timeout=10).json()["username"] == "mfa-user"


def test_basic_authentication_is_refused_in_production(deployed):
    register(deployed, "basic-user")
    answer = requests.get(f"{deployed['url']}/api/accounts/profile/", auth=("basic-user", PASSWORD), verify=deployed["ca"], timeout=10)
    assert answer.status_code == 401
    assert "basic" not in answer.headers.get("WWW-Authenticate", "").lower()


def test_the_guides_superuser_opens_the_admin(deployed, browser):
    url = deployed["url"]
    first = browser.get(f"{url}/admin/", allow_redirects=False, timeout=10)
    assert first.status_code == 302 and first.headers["Location"].startswith("/admin/login/")
    # A signed-in user without staff rights does not get in.
    register(deployed, "not-staff")
    other = verifying(requests.Session(), deployed["ca"])
    other.headers["Origin"] = url
    assert sign_in_page(other, f"{url}/accounts/login/?next=/admin/", username="not-staff", password=PASSWORD).status_code == 302
    assert other.get(f"{url}/admin/", allow_redirects=False, timeout=10).status_code == 302

    signed_in = sign_in_page(browser, urljoin(url, first.headers["Location"]), username="admin", password=ADMIN_PASSWORD)
    assert signed_in.status_code == 302, signed_in.text
    target = signed_in.headers["Location"]
    while target != "/admin/":  # /admin/login/ → the sign-in page with next=/admin/ → /admin/
        page = browser.get(urljoin(url, target), allow_redirects=False, timeout=10)
        if page.status_code == 200:
            form = Forms(page.text).find(field="username")
            signed_in = browser.post(urljoin(page.url, form["action"] or page.url), allow_redirects=False, timeout=10,
                                     data={**hidden_fields(form), "username": "admin", "password": ADMIN_PASSWORD})
            page = signed_in
        assert page.status_code == 302, page.text
        target = page.headers["Location"]
    admin = browser.get(f"{url}/admin/", timeout=10)
    assert admin.status_code == 200 and "Site administration" in admin.text
    # The admin's stylesheet, collected by the guide's collectstatic, served by WhiteNoise over HTTPS.
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', admin.text)
    assert stylesheet, "the admin links its hashed stylesheet"
    css = browser.get(urljoin(url, stylesheet.group(1)), timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]


# --- behind a TLS-terminating proxy (the guide's second block) -------------------------------------


def test_behind_a_proxy_only_the_proxy_is_believed(deployed):
    block = guide_blocks()[1]
    assert unsets(block) == ["BOUNCER_TLS_CERTFILE", "BOUNCER_TLS_KEYFILE"]
    changes = exports(block)
    assert set(changes) == {"BOUNCER_BEHIND_PROXY", "BOUNCER_FORWARDED_ALLOW_IPS"}
    env = {k: v for k, v in deployed["env"].items() if k not in unsets(block)}
    env.update(changes)
    port = free_port()
    env.update(
        BOUNCER_FORWARDED_ALLOW_IPS=HOST,  # the proxy is 127.0.0.1; 127.0.0.2 is a client that went around it
        BOUNCER_BIND=f"{HOST}:{port}",
        BOUNCER_WORKERS="1",
        ALLOWED_HOSTS=HOST,
        BOUNCER_THROTTLE_LOGIN="3/min",  # low, to see whose address a sign-in counts against
    )
    log_path = deployed["tmp"] / "gunicorn-proxy.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(["bash", "-c", f"exec {guide_commands()[-1]}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            assert wait_until_serving(f"http://{HOST}:{port}", server, log_path).status_code == 200  # probes over http
            https = {"X-Forwarded-Proto": "https"}
            # Plain http through the proxy is redirected to https; what the proxy says is https is served.
            plain = raw_get(port, "/api/accounts/profile/", source=HOST, headers={})
            assert plain.status == 301 and plain.getheader("Location") == f"https://{HOST}:{port}/api/accounts/profile/"
            served = raw_get(port, "/api/accounts/profile/", source=HOST, headers=https)
            assert served.status == 401
            assert served.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
            # A client around the proxy cannot claim https ...
            forged = raw_get(port, "/api/accounts/profile/", source="127.0.0.2", headers=https)
            assert forged.status == 301 and forged.getheader("Strict-Transport-Security") is None

            # ... nor reach a sign-in through a forged X-Forwarded-For: every try is sent to https.
            forged_signins = [
                raw_post_json(port, "/api/accounts/login/", {"username": f"nobody-{n}", "password": "x"}, source="127.0.0.2",
                              headers={**https, "X-Forwarded-For": f"198.51.100.{n}"}).status
                for n in range(5)
            ]
            assert set(forged_signins) == {301}
            via_proxy = [
                raw_post_json(port, "/api/accounts/login/", {"username": f"nobody-{n}", "password": "x"}, source=HOST,
                              headers={**https, "X-Forwarded-For": f"203.0.113.{n}"}).status
                for n in range(5)
            ]
            # Through the proxy, each client is its own address: five clients, one try each, none throttled.
            assert 429 not in via_proxy and set(via_proxy) <= {400, 401}
            one_client = [
                raw_post_json(port, "/api/accounts/login/", {"username": f"nobody-{n}", "password": "x"}, source=HOST,
                              headers={**https, "X-Forwarded-For": "203.0.113.200"}).status
                for n in range(5)
            ]
            assert one_client[-1] == 429  # one client behind the proxy, over the rate of three a minute
        finally:
            server.terminate()
            server.wait(timeout=60)
