"""The whole journey across three people: chemist submits, reviewer signs, investigator verifies."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from lims.db import db
from tests.certificates.helpers import configure_lab
from tests.search.lab import identification_lab

pytestmark = pytest.mark.browser


def _seed(app, make_user, make_case, make_samples) -> dict:
    """A sample with an FTIR and a GC-MS spectrum whose top library hits are accepted."""
    from lims.demo import demo_ei_msp
    from lims.library.services import get_library
    from lims.measurements.services import import_file
    from lims.processing import Recipe
    from lims.search.services import decide_hit, run_search

    base = identification_lab(app, make_user, make_case, make_samples)
    make_user("reviewer", username="elena", full_name="Elena Georgieva")
    investigator = make_user("investigator", username="ivan", full_name="Ivan Stoyanov")
    case = make_case(base["tech"], investigators=[investigator],
                     seized_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    sample = make_samples(base["tech"], case)[0]
    configure_lab(app)
    with app.app_context():
        chem, item = db.session.merge(base["chem"]), db.session.merge(sample)
        infrared = import_file(chem, item, base["spectrum_file"], "ftir.jdx", None, None)
        mass = import_file(chem, item, demo_ei_msp(item.lab_number), "gcms.msp", None, None)
        for measurement, library, algorithm in ((infrared, base["ir"], "hqi"),
                                                (mass, base["ms"], "nist_identity")):
            search = run_search(chem, measurement.spectra[0], get_library(library),
                                algorithm=algorithm, top=5, recipe=Recipe())
            decide_hit(chem, search.hits[0], "accepted", "Overlay checked.")
        db.session.commit()
    return {"sample": sample.lab_number, "case": case.case_number}


def _login(page, base_url, username, password, path):
    page.context.clear_cookies()
    page.goto(f"{base_url}{path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()


def test_chemist_reviewer_and_investigator_take_a_finding_to_a_verified_certificate(
        app, live_server, browser_page, make_user, make_case, make_samples, password,
        tmp_path):
    seeded = _seed(app, make_user, make_case, make_samples)
    page = browser_page

    # The chemist records the finding and submits it, signing with the password.
    _login(page, live_server, "dimitar", password, f"/samples/{seeded['sample']}")
    page.get_by_role("link", name="Record a finding").click()
    page.get_by_label("Identified", exact=True).check()
    page.get_by_label("Conclusion").fill("The powder contains cocaine, as the hydrochloride.")
    page.get_by_label("Limitations").fill("Enantiomers were not differentiated.")
    page.get_by_label("Why one aliquot served several techniques").fill(
        "Limited sample: one brick.")
    page.get_by_role("button", name="Start the finding").click()

    page.locator("summary", has_text="Add a substance").click()
    page.get_by_label("Substance", exact=True).select_option(
        label="Cocaine hydrochloride (accepted hit)")
    page.get_by_label("Salt form").fill("hydrochloride")
    page.get_by_role("button", name="Add substance").click()
    for code, hit_text in (("IR", "Demo IR"), ("GC-MS", "Demo MS")):
        form = page.locator("form.grid-form")
        if not form.is_visible():
            page.locator("summary", has_text="Add a technique result").click()
        form.get_by_label("Technique").select_option(code)
        hit = form.get_by_label("Accepted library hit")
        hit.select_option(label=hit.locator("option", has_text=hit_text).first.text_content())
        form.get_by_role("button", name="Add technique").click()
    expect(page.locator("#gate")).to_contain_text("meets SWGDRUG")

    page.get_by_role("link", name="Check and submit").click()
    expect(page.locator("h1")).to_contain_text("Check before you submit")
    page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Sign and submit for review").click()
    expect(page.locator(".flash")).to_contain_text("submitted")

    # The reviewer approves with the password; the certificate is issued and signed.
    finding_url = page.url
    _login(page, live_server, "elena", password, finding_url.removeprefix(live_server))
    page.get_by_role("link", name="Review").click()
    page.get_by_label("Approve: sign as reviewed and approved").check()
    page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Sign the decision").click()
    expect(page.locator("h1")).to_contain_text("CERT-")
    number = page.locator("h1").text_content().split()[-1]

    # The investigator finds the case, downloads the certificate and verifies it.
    _login(page, live_server, "ivan", password, "/portal")
    page.get_by_role("link", name=seeded["case"]).click()
    expect(page.locator("body")).to_contain_text(number)
    with page.expect_download() as download:
        page.get_by_role("link", name="Signed PDF").first.click()
    pdf = tmp_path / f"{number}.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    page.goto(f"{live_server}/verify")
    page.set_input_files("input[type=file]", str(pdf))
    page.get_by_role("button", name="Verify").click()
    result = page.locator("section.verdict")
    expect(result).to_contain_text("Authentic")
    expect(result).to_contain_text(number)
