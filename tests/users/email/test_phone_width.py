"""The email pages at a phone's width (360 px) in headless Chromium: nothing wider than the screen."""

from __future__ import annotations

import pytest

from tests.e2e.chromium import chromium_driver, require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

require_chromium()

PAGES = ["/accounts/signup/", "/accounts/password/reset/", "/accounts/password/reset/x/y/", "/accounts/verify-email/resend/", "/accounts/verify-email/some-key/"]


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium"))
    driver.set_window_size(360, 740)
    yield driver
    driver.quit()


@pytest.mark.parametrize("path", PAGES)
def test_email_page_fits_a_phone_screen(phone, live_server, path):
    phone.get(live_server.url + path)
    width = phone.execute_script("return document.documentElement.clientWidth")
    assert width <= 360
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width
    # The layout's stylesheet was served and applied (not an unstyled page that happens to fit).
    assert phone.execute_script("return getComputedStyle(document.querySelector('.card')).display") != "inline"
    assert phone.execute_script("return document.styleSheets[0].cssRules.length") > 0
