"""A chemist opens a spectrum page: the plot draws, drag zooms, the cursor reads, reset works."""

import pytest
from playwright.sync_api import expect

from lims.db import db
from tests.files import jcamp

pytestmark = pytest.mark.browser


@pytest.fixture
def spectrum_id(app, make_user, make_case, make_samples):
    from lims.measurements.services import import_file

    tech = make_user("technician")
    make_user("chemist", username="dimitar", full_name="Dimitar Ivanov")
    sample = make_samples(tech, make_case(tech))[0]
    with app.app_context():
        actor, item = db.session.merge(tech), db.session.merge(sample)
        ids = [import_file(actor, item, jcamp(title, bands, baseline=0.05), name, None,
                           None).spectra[0].id
               for title, bands, name in [
                   ("Seized powder", [(1700, 0.9), (2950, 0.4), (1250, 0.6)], "a.jdx"),
                   ("Second aliquot", [(1700, 0.7), (1250, 0.5)], "b.jdx")]]
        db.session.commit()
    return ids


def _x_range(plot) -> tuple[float, float]:
    return float(plot.get_attribute("data-x-min")), float(plot.get_attribute("data-x-max"))


def test_viewer_zooms_reads_the_cursor_and_resets(live_server, browser_page, spectrum_id,
                                                  password):
    page = browser_page
    page.goto(f"{live_server}/spectra/{spectrum_id[0]}?overlay=spectrum:{spectrum_id[1]}")
    page.fill("#username", "dimitar")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    plot = page.locator("#spectrum-plot")
    expect(plot).to_have_attribute("data-x-min", "400")
    expect(plot).to_have_attribute("data-x-max", "4000")
    canvas = plot.locator("canvas")
    expect(canvas).to_have_count(1)
    drawn = canvas.evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] && d[i] < 200) inked++;
        return inked; }""")
    assert drawn > 500  # axes, curves and peak labels are on the canvas
    expect(plot.locator(".u-legend")).to_contain_text("Second aliquot")
    expect(page.locator("#peak-table")).to_contain_text("1700 cm-1")

    over = plot.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    readout = page.locator("#cursor-readout")
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    expect(readout).to_contain_text("cm-1")
    first = readout.text_content()
    page.mouse.move(box["x"] + box["width"] * 0.6, y)
    expect(readout).not_to_have_text(first)
    assert "absorbance" in readout.text_content()

    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(plot).not_to_have_attribute("data-x-max", "4000")
    low, high = _x_range(plot)
    assert 400 < low < high < 4000 and high - low < 0.5 * 3600
    # x runs from 4000 on the left: 20 %-50 % of the width is about 3280-2200 cm-1
    assert 2000 < low < 2400 and 3100 < high < 3400

    page.get_by_role("button", name="Pan right").click()
    panned = _x_range(plot)
    assert panned[0] < low and panned[1] - panned[0] == pytest.approx(high - low)

    over.dblclick(position={"x": box["width"] / 2, "y": box["height"] / 2})
    expect(plot).to_have_attribute("data-x-max", "4000")
    assert _x_range(plot) == (400.0, 4000.0)


def test_page_works_without_javascript(live_server, _browser, spectrum_id, password):
    context = _browser.new_context(java_script_enabled=False,
                                   viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/spectra/{spectrum_id[0]}")
        page.fill("#username", "dimitar")
        page.fill("#password", password)
        page.get_by_role("button", name="Log in").click()
        image = page.locator("#spectrum-plot img")
        expect(image).to_have_attribute("src", f"/spectra/{spectrum_id[0]}/plot.png")
        page.wait_for_load_state("load")  # the image is rendered on request
        assert image.evaluate("img => img.naturalWidth") == 800
        expect(page.locator("#peak-table")).to_contain_text("2950 cm-1")
        page.select_option("#normalise", "vector")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator(".recipe-summary")).to_contain_text("vector normalised")
        assert "normalise=vector" in page.url
    finally:
        context.close()
