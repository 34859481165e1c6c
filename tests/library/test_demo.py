"""The demo seed: libraries with legal status, and one brick taken all the way to a certificate."""

import time
from datetime import date

import pytest
from sqlalchemy import select

from instruments.registry import parse
from lims.db import db
from lims.demo import demo_ir_jcamp, seed
from lims.library import services
from lims.library.demo import LIBRARY_NAME, LIBRARY_VERSION
from lims.library.models import Substance

pytestmark = pytest.mark.settings(lab_address="1 Test Street, Sofia")


def test_demo_seed_builds_the_libraries_once_and_fast(app_ctx):
    started = time.perf_counter()
    assert seed() is True
    db.session.commit()
    assert time.perf_counter() - started < 20
    libraries = services.list_libraries()
    assert {(lib.name, lib.version, lib.kind) for lib in libraries} == {
        (f"{LIBRARY_NAME} EI-MS", LIBRARY_VERSION, "ms"),
        (f"{LIBRARY_NAME} IR", LIBRARY_VERSION, "spectral")}
    assert all(lib.entry_count == 11 for lib in libraries)
    heroin = services.search_substances("heroin")
    assert [s.name for s in heroin] == ["Diacetylmorphine"]
    cocaine = db.session.scalars(select(Substance).where(Substance.cas == "53-21-4")).one()
    assert len(services.substance_entries(cocaine)) == 2
    assert [(s.regime, s.schedule) for s in services.legal_status_on(
        cocaine, date(2026, 1, 1))] == [("UN Single Convention 1961", "Schedule I")]
    assert services.legal_status_on(cocaine, date(1964, 12, 12)) == []
    bmk = services.search_substances("BMK")[0]
    assert {s.schedule for s in services.legal_status_on(bmk, date(2026, 1, 1))} == {
        "Table I", "Category 1"}
    assert seed() is False


def test_the_demo_spectrum_finds_cocaine_first(app_ctx):
    seed()
    library = services.get_library_by_name(f"{LIBRARY_NAME} IR")
    spectrum = parse(demo_ir_jcamp("CL-2026-000002"), "demo.jdx").spectra[0]
    hits = services.library_index(library).search(spectrum.x, spectrum.y, algorithm="hqi",
                                                  top=3, mask=())
    best = services.entries(library).entries[hits[0].position]
    assert best.substance.name == "Cocaine hydrochloride"


def test_the_demo_takes_one_brick_to_a_signed_certificate_the_investigator_sees(app_ctx):
    from lims.auth.services import get_user
    from lims.certificates.models import Certificate
    from lims.certificates.services import certificate_pdf, list_certificates
    from lims.findings.models import Finding
    from lims.signing import ca_file, verify_pdf

    seed()
    db.session.commit()
    (certificate,) = db.session.scalars(select(Certificate)).all()
    finding = db.session.get(Finding, certificate.finding_id)
    assert (certificate.status, finding.status, finding.result) == (
        "issued", "approved", "identified")
    assert {t.technique for t in finding.techniques} == {"IR", "GC-MS"}
    assert all(t.search_hit.decision == "accepted" for t in finding.techniques)
    investigator = get_user("inv")
    assert [c.number for c in list_certificates(investigator)] == [certificate.number]
    settings = app_ctx.config["LIMS"]
    pdf = certificate_pdf(investigator, certificate)
    result = verify_pdf(pdf, ca_file(settings).read_bytes())
    assert result.status == "valid" and result.signer
