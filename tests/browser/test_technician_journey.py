"""The technician's day in a real browser: log in, case, three items, label, hand-over, timeline."""

import re

import pytest
from playwright.sync_api import expect

from tests.tools import pdf_to_pngs, require_tool, zbar_decode

pytestmark = pytest.mark.browser


def test_technician_journey(live_server, browser_page, make_user, password, tmp_path):
    make_user("technician", username="tanya", full_name="Tanya Petrova")
    make_user("chemist", username="dimitar", full_name="Dimitar Ivanov")
    page = browser_page
    page.goto(live_server + "/")
    page.fill("#username", "tanya")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    assert page.locator("h1").inner_text().startswith("Good day")

    page.get_by_role("link", name="Register a seizure").click()
    page.fill("#seizure_ref", "BG-VAR-2026-0117")
    page.fill("#customs_office", "BG002000 Varna Port")
    page.fill("#officer_name", "Insp. Nikolay Dimov")
    page.fill("#container_number", "CSQU3054384")
    page.fill("#seals_received", "BG0071234\nBG0071235\nBG0071236")
    page.fill("#questions", "Identify the substance.")
    page.get_by_role("button", name="Register case").click()
    summary = page.locator(".error-summary")
    assert "Check digit should be 3, not 4" in summary.inner_text()
    assert page.locator("#container_number").input_value() == "CSQU3054384"

    page.fill("#container_number", "CSQU3054383")
    page.get_by_role("button", name="Register case").click()
    assert "registered" in page.locator(".flash").inner_text()
    case_number = re.search(r"CASE-\d{4}-\d{5}", page.locator("h1").inner_text()).group(0)

    for index, seal in enumerate(["BG0071234", "BG0071235", "BG0071236"]):
        page.fill(f"#items-{index}-description", f"Brick {index + 1} of white powder")
        page.fill(f"#items-{index}-gross_weight", "1104,3")
        page.fill(f"#items-{index}-seal_received", seal)
        page.keyboard.press("Enter")  # a scanner's Enter must not submit the form
        page.check(f"#items-{index}-seal_intact-0")
    assert "/samples/new" in page.url
    page.get_by_role("link", name="Add more rows").click()  # adds a row, keeps what was typed
    expect(page.locator("[data-item-row]")).to_have_count(4)
    assert page.input_value("#items-0-description") == "Brick 1 of white powder"
    assert page.input_value("#items-3-description") == ""
    page.get_by_role("button", name="Register items").click()
    flash = page.locator(".flash").inner_text()
    lab_numbers = re.findall(r"CL-\d{4}-\d{6}", flash)
    assert len(lab_numbers) == 3
    assert page.locator("h1").inner_text() == f"Case {case_number}"

    page.fill("#scan-code", "CL-1999-999999")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_contain_text("CL-1999-999999: not found")
    expect(page.locator("h1")).to_have_text(f"Case {case_number}")

    page.fill("#scan-code", lab_numbers[0])
    page.keyboard.press("Enter")
    expect(page.locator("h1 .labno")).to_have_text(lab_numbers[0])

    labels = []

    def keep_label(route):
        response = route.fetch()
        labels.append((response.headers["content-type"], response.body()))
        route.fulfill(response=response)

    page.context.route("**/label.pdf*", keep_label)
    with page.context.expect_page() as popup:
        page.get_by_role("button", name="Label (PDF)").click()
    popup.value.wait_for_load_state()
    content_type, body = labels[0]
    assert content_type == "application/pdf"
    assert body.startswith(b"%PDF")
    require_tool("pdftoppm")
    require_tool("zbarimg")
    assert lab_numbers[0] in zbar_decode(pdf_to_pngs(body, tmp_path)[0])

    page.get_by_role("link", name="Hand over", exact=True).click()
    page.select_option("#to", "user:dimitar")
    page.fill("#seal_found", "BG0071234")
    page.check("#seal_intact-0")
    page.get_by_role("button", name="Continue to check").click()
    assert "Check before you hand over" in page.locator("h1").inner_text()
    page.fill("#receiver_password", "wrong password here")
    page.get_by_role("button", name="Confirm hand-over").click()
    expect(page.locator(".error-summary")).to_contain_text("not correct")
    page.fill("#receiver_password", password)
    page.get_by_role("button", name="Confirm hand-over").click()

    expect(page.locator("h1")).to_have_text(f"Chain of custody of {lab_numbers[0]}")
    events = page.locator("ol.timeline li")
    assert events.count() == 2
    assert "receipt" in events.nth(0).inner_text()
    second = events.nth(1).inner_text()
    assert "transfer" in second and "Tanya Petrova (tanya) → Dimitar Ivanov (dimitar)" in second
    assert "confirmed by Dimitar Ivanov" in second
    assert "Now held by Dimitar Ivanov" in page.locator("main p").first.inner_text()
