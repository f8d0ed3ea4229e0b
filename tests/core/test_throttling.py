import pytest
from django.test import override_settings

from bouncer.audit.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def rates(**overrides):
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **overrides}}


@pytest.mark.parametrize(
    "url, scope",
    [("/api/accounts/login/", "login"), ("/api/auth-token/", "token")],
)
def test_login_endpoints_throttle_per_client_address(api, user, url, scope):
    with override_settings(REST_FRAMEWORK=rates(**{scope: "3/min", "login_account": "100/min"})):
        codes = [api.post(url, {"username": f"user{i}", "password": "x"}, format="json").status_code for i in range(4)]
        assert codes == [400, 400, 400, 429]
        blocked = api.post(url, {"username": "alice", "password": PASSWORD}, format="json")
        assert blocked.status_code == 429
        assert "Retry-After" in blocked
        assert "detail" in blocked.json()
        # Another address is not affected.
        other = api.post(url, {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR="10.9.9.9")
        assert other.status_code == 200


def test_login_throttles_per_account_across_addresses(api, user):
    with override_settings(REST_FRAMEWORK=rates(login="100/min", login_account="2/min")):
        for i in range(2):
            api.post("/api/accounts/login/", {"username": "alice", "password": "bad"}, format="json", REMOTE_ADDR=f"10.0.0.{i}")
        # Same account (any case) from a new address: blocked even with the right password.
        response = api.post(
            "/api/accounts/login/", {"username": "ALICE", "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.77"
        )
        assert response.status_code == 429
        assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()
        # Another account from that address is fine.
        assert (
            api.post("/api/accounts/login/", {"username": "bob", "password": "x"}, format="json", REMOTE_ADDR="10.0.0.77").status_code
            == 400
        )


def test_register_is_throttled(api):
    with override_settings(REST_FRAMEWORK=rates(register="2/hour")):
        codes = [
            api.post(
                "/api/accounts/register/",
                {"username": f"new{i}", "email": f"new{i}@example.com", "password": "testpass123"},
                format="json",
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 429]


def test_default_rates_allow_a_human_but_stop_a_script(api, user):
    # Default: 10/min per address, 5/min per account.
    codes = [api.post("/api/accounts/login/", {"username": "alice", "password": "bad"}, format="json").status_code for _ in range(6)]
    assert codes[:5] == [400] * 5
    assert codes[5] == 429


def test_jwt_refresh_has_its_own_per_address_rate(api):
    with override_settings(REST_FRAMEWORK=rates(refresh="2/min", token="100/min")):
        codes = [api.post("/api/token/refresh/", {"refresh": "x.y.z"}, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
