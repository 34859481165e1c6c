"""A chemist opens a spectrum, zooms, searches the library, overlays the top hit, accepts it."""

import pytest
from playwright.sync_api import expect

from lims.audit.models import AuditEntry
from lims.db import db
from lims.search.models import SearchHit
from tests.scenarios import identification_lab

pytestmark = pytest.mark.browser


def test_chemist_identifies_a_seized_powder(app, live_server, browser_page, make_user,
                                            make_case, make_samples, password):
    lab = identification_lab(app, make_user, make_case, make_samples)
    page = browser_page
    page.goto(f"{live_server}/spectra/{lab['spectrum']}")
    page.fill("#username", "dimitar")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()

    plot = page.locator("#spectrum-plot")
    expect(plot).to_have_attribute("data-x-max", "4000")
    over = plot.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.55, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, y, steps=8)
    page.mouse.up()
    expect(plot).not_to_have_attribute("data-x-max", "4000")
    low, high = float(plot.get_attribute("data-x-min")), float(plot.get_attribute("data-x-max"))
    assert 600 <= low < high < 2500  # zoomed into the fingerprint region

    panel = page.locator("#search-panel")
    panel.get_by_label("Library").select_option(label="Demo IR 1 (11 spectra)")
    panel.get_by_label("Algorithm").select_option("hqi")
    panel.get_by_role("button", name="Search library").click()

    expect(page.locator("h1")).to_contain_text("Library search")
    top = page.locator("#hit-1")
    expect(top).to_contain_text("Cocaine hydrochloride")
    score = float(top.locator("td.num").first.text_content())
    assert score > 95

    page.get_by_role("link", name="Overlay the top hit on the spectrum").click()
    expect(page.locator("#spectrum-plot .u-legend")).to_contain_text("Cocaine hydrochloride")
    page.go_back()

    top = page.locator("#hit-1")
    top.get_by_label("Decision").select_option("accepted")
    top.get_by_label("Comment").fill("All bands match the reference; overlay checked.")
    top.get_by_role("button", name="Record").click()
    expect(page.locator(".flash")).to_contain_text("Cocaine hydrochloride) accepted")
    expect(page.locator("#hit-1")).to_contain_text("accepted by Dimitar Ivanov")

    with app.app_context():
        hit = db.session.scalar(db.select(SearchHit).where(SearchHit.rank == 1))
        assert hit.decision == "accepted"
        assert db.session.scalar(db.select(AuditEntry.seq).where(
            AuditEntry.action == "search_hit_accepted"))
