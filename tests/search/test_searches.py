"""Stored library searches: web, API and CLI, the recipe and library version kept, decisions."""

import json

import numpy as np
import pytest

from lims.audit.models import AuditEntry
from lims.db import db
from lims.library.demo import IR_X, noisy_cocaine_absorbance
from lims.search.models import Search, SearchHit
from tests.search.lab import identification_lab

COCAINE = "Cocaine hydrochloride"


def _transmittance_jcamp() -> bytes:
    """The noisy cocaine spectrum written as %T, as many FTIR exports are."""
    percent = 100 * 10 ** (-noisy_cocaine_absorbance())
    lines = ["##TITLE=seized powder %T", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM",
             "##XUNITS=1/CM", "##YUNITS=TRANSMITTANCE", f"##NPOINTS={IR_X.size}",
             "##XYPOINTS=(XY..XY)"]
    lines += [f"{x:g}, {t / 100:.6f}" for x, t in zip(IR_X, percent, strict=True)]
    return ("\n".join(lines) + "\n##END=\n").encode()


@pytest.fixture
def lab(app, make_user, make_case, make_samples):
    """A chemist, a sample with an FTIR spectrum, and the demo IR and MS libraries."""
    return identification_lab(app, make_user, make_case, make_samples)


def _post_search(client, lab, **fields):
    data = {"library": str(lab["ir"]), "algorithm": "hqi", "top": "5", "recipe": "{}", **fields}
    return client.post(f"/spectra/{lab['spectrum']}/search", data=data)


def test_chemist_searches_and_the_search_is_stored_with_library_and_recipe(
        app, client, login, lab):
    login(client, "dimitar")
    recipe = {"baseline": "rubberband", "masks": [[2400, 2280]]}
    response = _post_search(client, lab, recipe=json.dumps(recipe))
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert COCAINE in text and "Demo IR 1" in text and "rubber-band" in text
    with app.app_context():
        search = db.session.scalar(db.select(Search))
        assert (search.library_name, search.library_version) == ("Demo IR", "1")
        assert len(search.library_sha256) == 64
        assert search.recipe["masks"] == [[2400.0, 2280.0]]
        assert search.recipe["baseline"] == "rubberband"
        hits = search.hits
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert hits[0].substance_name == COCAINE and hits[0].score > 95
        assert hits[0].score == pytest.approx(100 * hits[0].raw ** 2, abs=1e-9)
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        audit = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "search_run"))
        assert audit.entity_id == str(search.id) and "Demo IR" in audit.new_value


def test_masking_a_region_changes_the_score(app, client, login, lab):
    login(client, "dimitar")
    _post_search(client, lab)
    _post_search(client, lab, recipe=json.dumps({"masks": [[1800, 1650]]}))
    with app.app_context():
        plain, masked = db.session.scalars(db.select(Search).order_by(Search.id)).all()
        assert plain.hits[0].substance_name == masked.hits[0].substance_name == COCAINE
        assert plain.hits[0].raw != masked.hits[0].raw


def test_technician_may_not_search(client, login, lab):
    login(client, "tanya")
    assert _post_search(client, lab).status_code == 403


def test_search_against_a_library_of_another_technique_is_refused(app, client, login, lab):
    login(client, "dimitar")
    response = _post_search(client, lab, library=str(lab["ms"]))
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)  # not offered at all
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Search.id))) == 0


def test_bad_recipe_is_refused_naming_the_step(app, client, login, lab):
    login(client, "dimitar")
    response = _post_search(client, lab, recipe=json.dumps({"smooth_window": 4}))
    assert response.status_code == 422
    assert "smooth_window" in response.get_data(as_text=True)


def test_hit_decision_needs_a_comment_and_is_audited(app, client, login, lab):
    login(client, "dimitar")
    location = _post_search(client, lab).headers["Location"]
    with app.app_context():
        search = db.session.scalar(db.select(Search))
        search_id, hit_id = search.id, search.hits[0].id
    url = f"/searches/{search_id}/hits/{hit_id}/decision"
    refused = client.post(url, data={"decision": "accepted", "comment": ""})
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.get(SearchHit, hit_id).decision is None
    accepted = client.post(url, data={"decision": "accepted",
                                      "comment": "Overlay matches all bands above 600 cm-1."})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith(location)
    changed = client.post(url, data={"decision": "rejected", "comment": "Second look: no."})
    assert changed.status_code == 302
    with app.app_context():
        hit = db.session.get(SearchHit, hit_id)
        assert (hit.decision, hit.decided_by.username) == ("rejected", "dimitar")
        entries = db.session.scalars(db.select(AuditEntry).where(
            AuditEntry.entity_type == "library_search_hit").order_by(AuditEntry.seq)).all()
        assert [e.action for e in entries] == ["search_hit_accepted", "search_hit_rejected"]
        assert entries[1].old_value == "accepted"
        assert entries[0].reason == "Overlay matches all bands above 600 cm-1."


def test_result_page_offers_the_overlay_of_the_top_hit(client, login, lab):
    login(client, "dimitar")
    page = client.get(_post_search(client, lab).headers["Location"]).get_data(as_text=True)
    assert f"/spectra/{lab['spectrum']}?overlay=entry:" in page
    assert "/plot.png?overlay=entry:" in page


def test_api_search_returns_ranked_hits_with_library_version(app, client, api, api_token, lab):
    client_api = api(client, api_token("dimitar"))
    response = client_api.post(f"/api/v1/spectra/{lab['spectrum']}/search",
                               json={"library": "Demo IR", "algorithm": "hqi", "top": 3})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert len(body["hits"]) == 3
    top = body["hits"][0]
    assert (top["substance"], top["library"], top["library_version"]) == (COCAINE, "Demo IR", "1")
    assert top["score"] > 95 and body["library_sha256"]
    with app.app_context():
        assert db.session.get(Search, body["search_id"]).hits[0].raw == top["raw"]


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"library": "Demo IR", "algorithm": "cosine"}, 422, "algorithm"),
    ({"library": "Demo IR", "algorithm": "bogus"}, 422, "algorithm"),
    ({"library": "No such library", "algorithm": "hqi"}, 404, None),
    ({"algorithm": "hqi"}, 422, "library"),
    ({"library": "Demo IR", "algorithm": "hqi", "top": 0}, 422, "top"),
    ({"library": "Demo IR", "algorithm": "hqi", "recipe": {"normalise": "x"}}, 422, "recipe"),
    ({"library": "Demo IR", "algorithm": "hqi", "recipe": {"baseline": []}}, 422, "recipe"),
])
def test_api_search_errors_name_the_field(client, api, api_token, lab, body, status, field):
    response = api(client, api_token("dimitar")).post(
        f"/api/v1/spectra/{lab['spectrum']}/search", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]
    if field:
        assert response.get_json()["field"] == field


def test_api_search_outside_the_investigators_reach(client, api, api_token, make_user, lab):
    make_user("investigator", username="ivan")
    response = api(client, api_token("ivan")).post(
        f"/api/v1/spectra/{lab['spectrum']}/search", json={"library": "Demo IR",
                                                           "algorithm": "hqi"})
    assert response.status_code == 403


def test_transmittance_query_is_converted_and_the_recipe_says_so(app, lab):
    from lims.library.services import get_library
    from lims.search.services import search_file

    with app.app_context():
        hits = search_file(_transmittance_jcamp(), "t.jdx", get_library(lab["ir"]),
                           algorithm="hqi", top=3)
        assert hits[0].entry.substance.name == COCAINE
        assert hits[0].hit.score > 95


def test_cli_search_prints_json_hits(cli, lab, tmp_path):
    path = tmp_path / "powder.jdx"
    path.write_bytes(lab["spectrum_file"])
    result = cli("search", str(path), "--library", "Demo IR", "--top", "4", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["library"] == "Demo IR" and body["algorithm"] == "hqi"
    assert [h["rank"] for h in body["hits"]] == [1, 2, 3, 4]
    assert body["hits"][0]["substance"] == COCAINE


def test_cli_search_of_an_ms_file_uses_nist_identity(cli, lab, tmp_path):
    path = tmp_path / "unknown.msp"
    path.write_bytes(b"Name: unknown\nNum Peaks: 4\n82 999\n182 850\n303 240\n94 120\n")
    result = cli("search", str(path), "--library", "Demo MS", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["algorithm"] == "nist_identity"
    assert body["hits"][0]["substance"] == COCAINE
    assert 0 < body["hits"][0]["score"] <= 999.5


def test_cli_search_errors_are_messages(cli, lab, tmp_path):
    path = tmp_path / "broken.jdx"
    path.write_bytes(b"##TITLE=x\n##XYDATA=(X++(Y..Y))\n1 2 3\n")
    result = cli("search", str(path), "--library", "Demo IR")
    assert result.exit_code == 1 and "Error" in result.output
    missing = cli("search", str(path), "--library", "Nope")
    assert missing.exit_code == 1 and "Nope" in missing.output


def test_unapproved_library_is_refused(app, lab):
    from lims.errors import Invalid
    from lims.library.services import get_library
    from lims.measurements.models import SpectrumRecord
    from lims.processing import Recipe
    from lims.search.services import run_search

    with app.app_context():
        library = get_library(lab["ir"])
        library.approved = False
        with pytest.raises(Invalid, match="not approved"):
            run_search(db.session.merge(lab["chem"]), db.session.get(SpectrumRecord,
                                                                     lab["spectrum"]),
                       library, algorithm="hqi", top=3, recipe=Recipe())
        db.session.rollback()


def test_stored_scores_are_the_exact_float64_values(app, lab):
    from libsearch.scores import correlation
    from lims.library.services import get_library, library_index
    from lims.measurements.models import SpectrumRecord
    from lims.processing import Recipe
    from lims.search.services import run_search

    with app.app_context():
        library = get_library(lab["ir"])
        spectrum = db.session.get(SpectrumRecord, lab["spectrum"])
        search = run_search(db.session.merge(lab["chem"]), spectrum, library,
                            algorithm="hqi", top=3, recipe=Recipe())
        x, y = library_index(library).entry(search.hits[0].entry.position)
        order = np.argsort(x)
        reference = np.interp(spectrum.x, x[order], y[order])
        assert search.hits[0].raw == pytest.approx(correlation(spectrum.y, reference),
                                                   abs=1e-6)
        db.session.rollback()
