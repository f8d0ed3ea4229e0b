"""The home page `/` at a phone's width (360 px) in headless Chromium, like the other pages."""

from __future__ import annotations

import pytest

from tests.e2e.chromium import chromium_driver, require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    driver = chromium_driver(tmp_path_factory.mktemp("chromium"))
    driver.set_window_size(360, 740)
    yield driver
    driver.quit()


def test_home_page_fits_a_phone_screen_and_its_sign_in_link_works(phone, live_server):
    phone.get(live_server.url + "/")
    width = phone.execute_script("return document.documentElement.clientWidth")
    assert width <= 360
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width
    # The layout's stylesheet was served and applied (not an unstyled page that happens to fit).
    assert phone.execute_script("return getComputedStyle(document.querySelector('.card')).display") != "inline"
    assert phone.execute_script("return document.styleSheets[0].cssRules.length") > 0
    # One h1, and every link has text a screen reader can read out.
    assert len(phone.find_elements(By.TAG_NAME, "h1")) == 1
    assert all(link.text.strip() for link in phone.find_elements(By.CSS_SELECTOR, "main a"))
    phone.find_element(By.LINK_TEXT, "Sign in").click()
    assert phone.current_url == live_server.url + "/accounts/login/"
    assert phone.find_element(By.ID, "id_username")
