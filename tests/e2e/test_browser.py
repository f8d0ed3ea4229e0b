"""Pages in a real headless Chromium: Swagger UI and the admin.

Needs Debian's chromium and chromium-driver (.ci/run installs them). Without
them the tests skip locally, but never in CI (CI=true), where a missing browser
is a failure.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.chromium import chromium_driver, require_chromium

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


def test_swagger_ui_renders_every_endpoint(browser, live_server_url):
    browser.get(f"{live_server_url}/api/docs/")
    WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    paths = {el.get_attribute("data-path") for el in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    for path in ["/api/accounts/login/", "/api/accounts/profile/", "/api/auth-token/", "/api/articles/"]:
        assert path in paths
    # The Authorize dialog lists every scheme; Basic is off on this server, so it is not offered.
    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    dialog = WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".auth-container")))
    text = browser.find_element(By.CSS_SELECTOR, ".modal-ux").text
    missing = [name for name in ("jwtAuth", "tokenAuth", "sessionAuth", "oauth2", "openIdConnect") if name not in text]
    assert dialog and not missing, (missing, text)
    assert "basicAuth" not in text


def test_admin_sign_in_and_read_only_audit_log(browser, live_server_url, live_server_env):
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c",
         "from bouncer.users.models import User; User.objects.create_superuser('root', 'root@example.com', 'admin-pass-for-e2e-1')"],
        cwd=ROOT, env=live_server_env, check=True, timeout=120,
    )
    import requests

    requests.post(f"{live_server_url}/api/accounts/login/", json={"username": "mallory", "password": "guess"}, timeout=10)
    # The admin's login is Bouncer's sign-in page (its second step, when the user has a factor).
    browser.get(f"{live_server_url}/admin/login/?next=/admin/audit/auditevent/")
    WebDriverWait(browser, 15).until(EC.url_contains("/accounts/login/?next="))
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys("admin-pass-for-e2e-1")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button--primary").click()
    WebDriverWait(browser, 15).until(EC.title_contains("audit event"))
    assert "Add audit event" not in browser.page_source
    rows = browser.find_element(By.CSS_SELECTOR, "#result_list").text
    assert "Login failed" in rows and "mallory" in rows
