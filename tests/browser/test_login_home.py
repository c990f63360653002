"""The harness works end to end: a grid worker logs in on a phone and the home page is accessible."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, check_accessibility, login_as

pytestmark = pytest.mark.browser


def test_grid_worker_logs_in_on_a_phone_and_sees_an_accessible_home_page(page, live_server):
    assert page.viewport_size == PHONE
    login_as(page, "demo_worker")
    assert page.url == live_server.url("/")
    assert page.locator("h1").inner_text() == "你好，演示网格员"
    assert page.locator("[data-role]").get_attribute("data-role") == "grid_worker"
    # One column at 360 px: nothing sticks out sideways.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    result = check_accessibility(page)
    assert result["testEngine"]["name"] == "axe-core"


def test_accessibility_check_fails_on_a_serious_violation(page):
    page.goto("/login")
    page.evaluate("() => { document.querySelector('label[for=username]').remove(); }")  # unlabeled input
    with pytest.raises(pytest.fail.Exception, match="label"):
        check_accessibility(page)
