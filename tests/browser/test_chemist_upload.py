"""A chemist uploads a JCAMP file, checks the preview and accepts it; a broken file is refused."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_chemist_uploads_previews_accepts_and_sees_errors(
        live_server, browser_page, make_user, make_case, make_samples, password):
    tech = make_user("technician")
    make_user("chemist", username="dimitar", full_name="Dimitar Ivanov")
    sample = make_samples(tech, make_case(tech))[0]
    page = browser_page
    page.goto(f"{live_server}/samples/{sample.lab_number}")
    page.fill("#username", "dimitar")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("h1 .labno")).to_have_text(sample.lab_number)

    page.get_by_role("link", name="Upload a measurement").click()
    page.set_input_files("#file", str(FIXTURES / "ir_small.jdx"))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("h1")).to_have_text("Check ir_small.jdx")
    expect(page.locator("[data-format]")).to_contain_text("JCAMP-DX")
    row = page.locator("table.spectra tbody tr").first
    expect(row).to_contain_text("IR")
    expect(row).to_contain_text("cm-1 / absorbance")
    assert row.locator("img").evaluate("img => img.naturalWidth") > 100  # the plot rendered

    page.get_by_role("button", name="Accept and save").click()
    expect(page.locator(".flash")).to_contain_text("saved with 1 spectrum")
    expect(page.locator("h1")).to_contain_text(f"of {sample.lab_number}")
    expect(page.locator(".spectrum-card")).to_contain_text("400 … 410 cm-1")

    page.goto(f"{live_server}/samples/{sample.lab_number}/measurements/new")
    page.set_input_files("#file", str(FIXTURES / "ir_broken.jdx"))
    page.get_by_role("button", name="Preview").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("line 16")
    expect(page.locator("h1")).to_contain_text("Upload a measurement")

    page.goto(f"{live_server}/samples/{sample.lab_number}")
    expect(page.locator("#measurements + p + table tbody tr")).to_have_count(1)
