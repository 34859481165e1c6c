"""Recording findings on the web: the SWGDRUG gate, linked data, sampling, net weight, edits."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.db import db
from lims.errors import Invalid
from lims.esign.models import Signature
from lims.findings import sampling, services
from lims.findings.models import Finding

PASSWORD = "correct horse battery staple"


def _signatures(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signature.id)))


def test_gate_refuses_an_identification_and_names_the_missing_technique(app, client, login, lab,
                                                                        make_finding):
    finding_id = make_finding(passing=False)
    login(client, "dimitar")
    check = client.get(f"/findings/{finding_id}/submit").get_data(as_text=True)
    assert "not met yet" in check and "Needs a second technique" in check
    response = client.post(f"/findings/{finding_id}/submit", data={"password": PASSWORD})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page
    assert "Needs a second technique based on different properties" in page
    assert "besides ATR-FTIR" in page
    assert _signatures(app) == 0
    with app.app_context():
        assert db.session.get(Finding, finding_id).status == "draft"


def test_check_page_shows_gate_content_hash_meaning_and_password(app, client, login, lab,
                                                                 make_finding):
    finding_id = make_finding()
    login(client, "dimitar")
    page = client.get(f"/findings/{finding_id}/submit").get_data(as_text=True)
    with app.app_context():
        digest = services.finding_sha256(db.session.get(Finding, finding_id))
    assert "meets SWGDRUG" in page and "by rule R1" in page
    assert f'id="content-sha256">{digest}<' in page
    assert "<strong>performed</strong>" in page and 'type="password"' in page
    assert "Schedule I" in page and "hydrochloride" in page


def test_finding_page_links_spectra_hits_and_shows_legal_status_on_seizure_date(
        client, login, lab, make_finding):
    finding_id = make_finding()
    login(client, "elena")
    page = client.get(f"/findings/{finding_id}").get_data(as_text=True)
    assert f'href="/spectra/{lab["spectrum"]}"' in page
    assert f'href="/searches/{lab["search"]}"' in page
    assert "Legal status on 2026-03-01 (seizure date)" in page
    assert "Schedule I" in page and "UN Single Convention 1961" in page
    assert "meets SWGDRUG" in page and "ATR-FTIR" in page


def test_sample_page_lists_findings_and_offers_to_record_one(client, login, lab, make_finding):
    login(client, "dimitar")
    page = client.get(f"/samples/{lab['sample']}").get_data(as_text=True)
    assert "No finding yet." in page
    assert f'href="/samples/{lab["sample"]}/findings/new"' in page
    finding_id = make_finding()
    page = client.get(f"/samples/{lab['sample']}").get_data(as_text=True)
    assert f'href="/findings/{finding_id}"' in page and "Identified: " in page
    assert "Record a finding" not in page


def test_record_a_finding_and_its_techniques_on_the_web(app, client, login, lab):
    login(client, "dimitar")
    response = client.post(f"/samples/{lab['sample']}/findings/new", data={
        "result": "identified", "conclusion": "Contains cocaine.", "limitations": "none"})
    assert response.status_code == 302
    finding_id = int(response.headers["Location"].rsplit("/", 1)[1])
    added = client.post(f"/findings/{finding_id}/techniques", data={
        "technique": "IR", "positive": "yes", "aliquot": lab["sample"],
        "search_hit_id": str(lab["hit"]), "measurement_id": ""})
    assert added.status_code == 302
    refused = client.post(f"/findings/{finding_id}/techniques", data={
        "technique": "GC-MS", "positive": "yes", "aliquot": lab["sample"],
        "search_hit_id": str(lab["rejected_hit"])})
    assert refused.status_code == 422
    assert "only accepted hits can support a finding" in refused.get_data(as_text=True)
    client.post(f"/findings/{finding_id}/substances",
                data={"substance_id": str(lab["substance"]), "salt_form": "base"})
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        assert [t.technique for t in finding.techniques] == ["IR"]
        assert finding.techniques[0].measurement_id == lab["measurement"]  # taken from the hit
        assert finding.substances[0].salt_form == "base"
        actions = set(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "finding", AuditEntry.entity_id == str(finding_id))))
    assert {"create", "technique_added", "substance_added"} <= actions


def test_only_accepted_hits_on_this_samples_spectra_can_be_linked(app, lab, make_finding):
    from lims.auth.services import get_user

    finding_id = make_finding()
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        chem = get_user("dimitar")
        for hit, message in ((lab["rejected_hit"], "not accepted"),
                             (lab["other_hit"], "No library hit")):
            try:
                services.add_technique(chem, finding, {"technique": "IR", "search_hit_id": hit})
            except Invalid as error:
                assert message in error.message and error.field == "search_hit_id"
            else:
                raise AssertionError("the hit was linked")


def test_a_submitted_finding_cannot_be_edited(client, login, lab, make_finding):
    finding_id = make_finding(submit=True)
    login(client, "dimitar")
    for url, data in ((f"/findings/{finding_id}/edit", {"result": "inconclusive",
                                                        "limitations": "none"}),
                      (f"/findings/{finding_id}/techniques", {"technique": "TLC"}),
                      (f"/findings/{finding_id}/submit", {"password": PASSWORD})):
        response = client.post(url, data=data)
        assert response.status_code == 409, url
        assert "it can" in response.get_data(as_text=True)
    redirected = client.get(f"/findings/{finding_id}/edit", follow_redirects=True)
    assert "is submitted; it can no longer be changed" in redirected.get_data(as_text=True)


def test_sampling_calculator_reproduces_the_reference_numbers(client, login, lab, make_finding):
    finding_id = make_finding()
    login(client, "dimitar")
    form = {"method": "hypergeometric", "population": "100", "proportion": "90",
            "confidence": "95", "negatives": "0", "calculate": "Calculate"}
    page = client.post(f"/findings/{finding_id}/sampling", data=form).get_data(as_text=True)
    assert re.search(r'id="sample-size">23<', page)  # DOMAIN.md 2.5, N = 100
    assert "<td>binomial</td><td>29</td>" in page and "<td>bayesian</td><td>22</td>" in page
    one_negative = client.post(f"/findings/{finding_id}/sampling",
                               data={**form, "negatives": "1"}).get_data(as_text=True)
    assert re.search(r'id="sample-size">36<', one_negative)
    unreachable = client.post(f"/findings/{finding_id}/sampling", data={
        **form, "population": "10", "negatives": "2"})
    assert unreachable.status_code == 200
    text = unreachable.get_data(as_text=True)
    assert 'id="unreachable">Cannot be reached: with 2 negatives among 10 units' in text


def test_selected_units_reproduce_from_the_stored_seed(app, client, login, lab, make_finding):
    finding_id = make_finding()
    login(client, "dimitar")
    form = {"method": "hypergeometric", "population": "100", "proportion": "90",
            "confidence": "95", "negatives": "0", "save": "Save the plan"}
    assert client.post(f"/findings/{finding_id}/sampling", data=form).status_code == 302
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        seed, units = finding.seed, finding.selected_units
    assert len(units) == 23 and seed is not None
    assert sampling.select_units(100, 23, seed) == (seed, units)
    client.post(f"/findings/{finding_id}/sampling",
                data={**form, "tested": "23", "positives": "23"})
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        assert finding.selected_units == units  # re-saving keeps the units already chosen
        statement = finding.sampling_statement
    assert statement.startswith(f"23 of 100 units were selected at random (seed {seed})")
    assert "With 95 % confidence at least 90 % of the 100 units contain" in statement
    page = client.get(f"/findings/{finding_id}").get_data(as_text=True)
    assert statement.split(";")[0] in page and ", ".join(map(str, units)) in page


def test_net_weight_extrapolation_is_shown_with_its_interval(app, client, login, lab,
                                                             make_finding):
    finding_id = make_finding()
    login(client, "dimitar")
    weights = ["0.97", "1.07"] * 5
    form = {"method": "extrapolated", "unit_weights": "\n".join(weights), "population": "100",
            "confidence": "95", "interval": "two-sided"}
    expected = sampling.extrapolate_net_weight([970, 1070] * 5, 100)
    preview = client.post(f"/findings/{finding_id}/net-weight",
                          data={**form, "calculate": "Calculate"}).get_data(as_text=True)
    assert "102.000 g" in preview
    low, high = (f"{v / 1000:.3f} g" for v in (expected.lower_mg, expected.upper_mg))
    assert f"interval {low} – {high}" in preview
    bad = client.post(f"/findings/{finding_id}/net-weight",
                      data={**form, "unit_weights": "1.0\nabc", "calculate": "Calculate"})
    assert bad.status_code == 422 and "Line 2" in bad.get_data(as_text=True)
    assert client.post(f"/findings/{finding_id}/net-weight",
                       data={**form, "save": "Save"}).status_code == 302
    page = client.get(f"/findings/{finding_id}").get_data(as_text=True)
    assert f"interval {low} – {high}" in page and "finite-population correction" in page
    with app.app_context():
        snapshot = services.finding_snapshot(db.session.get(Finding, finding_id))
    assert snapshot["net_weight"] == {"method": "extrapolated", "value_mg": 102000,
                                      "lower_mg": expected.lower_mg,
                                      "upper_mg": expected.upper_mg, "confidence": "0.95"}


def test_not_detected_needs_the_scope_of_the_scheme(app, client, login, lab):
    login(client, "dimitar")
    response = client.post(f"/samples/{lab['sample']}/findings/new", data={
        "result": "not_detected", "conclusion": "No controlled substance detected.",
        "limitations": "none"})
    finding_id = int(response.headers["Location"].rsplit("/", 1)[1])
    refused = client.post(f"/findings/{finding_id}/submit", data={"password": PASSWORD})
    assert refused.status_code == 422
    assert "State the scope of the scheme" in refused.get_data(as_text=True)


def test_changing_the_number_of_units_keeps_the_extrapolated_net_weight_true(app, lab,
                                                                           make_finding):
    from lims.auth.services import get_user

    finding_id = make_finding()
    weights = [1010, 990, 1005, 995, 1000]
    with app.app_context():
        actor, finding = get_user(lab["chem"].username), db.session.get(Finding, finding_id)
        services.set_net_weight(actor, finding, {"method": "extrapolated",
                                                 "unit_weights_mg": weights, "population": 100})
        services.set_sampling(actor, finding, {"method": "hypergeometric", "population": 50,
                                               "proportion": 0.9, "confidence": 0.95})
        db.session.commit()
        expected = sampling.extrapolate_net_weight(weights, 50)
        assert finding.net_weight_mg == expected.estimate_mg
        shown = services.net_weight_of(finding)
        assert (shown.estimate_mg, shown.lower_mg) == (finding.net_weight_mg,
                                                      finding.net_weight_lower_mg)
