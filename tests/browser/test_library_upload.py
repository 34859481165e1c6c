"""The import form in a browser: sent with a progress bar, redirected, errors shown in place."""

import pytest
from playwright.sync_api import expect

from tests.library.conftest import SMALL_MSP

pytestmark = pytest.mark.browser


def test_import_with_progress_then_a_duplicate_shows_its_error(
        live_server, browser_page, make_user, password, tmp_path):
    make_user("chemist", username="dimitar")
    path = tmp_path / "small.msp"
    path.write_bytes(SMALL_MSP)
    page = browser_page
    page.goto(f"{live_server}/libraries")
    page.fill("#username", "dimitar")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()

    for attempt in range(2):
        page.set_input_files("#file", str(path))
        page.fill("#name", "Test MS")
        page.fill("#version", "1")
        page.get_by_role("button", name="Import library").click()
        if attempt == 0:
            expect(page.locator(".flash")).to_contain_text("imported with 2 entries")
            expect(page.locator("h1")).to_contain_text("Test MS")
            page.goto(f"{live_server}/libraries")
    expect(page.locator(".error-summary")).to_contain_text("already imported")
    assert page.url == f"{live_server}/libraries"
    expect(page.locator("[data-progress]")).to_be_hidden()  # the re-rendered form, reset
