"""Build an issued certificate through the real services: upload, search, finding, review."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime

from lims.auth import services as auth_services
from lims.certificates.services import issue_certificate
from lims.db import db
from lims.findings import services as findings
from lims.signing import ca_file, init_keys

PASSWORD = "correct horse battery staple"
LAB_NAME = "Customs Laboratory Sofia"
LAB_ADDRESS = "47 Aksakov Street\n1000 Sofia, Bulgaria"
SEAL = "BG-SEAL-004711"
SEIZED_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def configure_lab(app) -> bytes:
    """Give the app a lab address and a signing key; return the CA certificate PEM."""
    settings = dataclasses.replace(app.config["LIMS"], lab_address=LAB_ADDRESS,
                                   lab_name=LAB_NAME)
    app.config["LIMS"] = settings
    if not settings.signing_key_file.exists():
        init_keys(settings, lab_name=LAB_NAME)
    return ca_file(settings).read_bytes()


def new_user(role: str, full_name: str):
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    return auth_services.create_user(None, username, full_name, role, PASSWORD)


def accepted_hit(app, chemist, sample):
    """Upload the demo FTIR spectrum of a sample, search the demo IR library, accept hit 1."""
    from lims.demo import demo_ir_jcamp
    from lims.errors import NotFound
    from lims.library.demo import ir_library_file
    from lims.library.services import add_legal_status, get_library_by_name, import_library
    from lims.measurements.services import create_instrument, import_file
    from lims.processing import Recipe
    from lims.search.services import decide_hit, run_search

    try:
        library = get_library_by_name("Test IR library")
    except NotFound:
        library = import_library(chemist, ir_library_file(), "ir.jdx", name="Test IR library",
                                 version="1")
    instrument = create_instrument(None, {"name": f"FTIR-{uuid.uuid4().hex[:4]}",
                                          "technique": "IR", "model": "Nicolet iS50",
                                          "serial": "AUP1234567"})
    measurement = import_file(chemist, sample, demo_ir_jcamp(sample.lab_number), "ftir.jdx",
                              None, instrument)
    search = run_search(chemist, measurement.spectra[0], library, algorithm="hqi", top=3,
                        recipe=Recipe())
    hit = search.hits[0]
    decide_hit(chemist, hit, "accepted", "Visual comparison with the reference: all bands.")
    substance = hit.entry.substance
    if not substance.legal_statuses:
        add_legal_status(chemist, substance, {
            "regime": "National list", "schedule": "List I (Narcotic Drugs Act)",
            "effective_from": date(2020, 1, 1), "effective_to": None,
            "reference": "State Gazette 30/2020"})
    return hit


def approved_finding(app, chemist, reviewer, sample, hit, **fields):
    """A finding (IR with the accepted hit + colour test), submitted and approved."""
    finding = findings.create_finding(chemist, sample, {
        "result": "identified", "conclusion": "The powder contains cocaine.",
        "limitations": "Isomers and enantiomers not differentiated.",
        "same_aliquot_reason": "Limited sample: one aliquot for both tests.",
        "techniques": [
            {"technique": "IR", "search_hit_id": hit.id, "method_ref": "SOP-IR-01 v3"},
            {"technique": "COLOUR", "run": "Scott test plate 7", "aliquot": sample.lab_number,
             "method_ref": "SOP-CT-02 v1"}],
        "substances": [{"substance_id": hit.entry.substance_id, "salt_form": "hydrochloride",
                        "purity_percent": 78.4, "purity_uncertainty_percent": 2.1}],
        **fields})
    findings.submit(chemist, finding, PASSWORD)
    findings.approve(reviewer, finding, PASSWORD)
    return finding


def make_certificate(app, *, investigators=(), tech=None, chemist=None, reviewer=None):
    """Issue a certificate on a new case and item; return plain values (detached-safe)."""
    from lims.intake.services import create_case, register_samples

    configure_lab(app)
    with app.app_context():
        tech = db.session.merge(tech) if tech else new_user("technician", "Tanya Petrova")
        chemist = db.session.merge(chemist) if chemist else new_user("chemist", "Dimitar Ivanov")
        reviewer = db.session.merge(reviewer) if reviewer else new_user("reviewer",
                                                                     "Elena Georgieva")
        settings = app.config["LIMS"]
        case = create_case(tech, {
            "customs_office": "BG001000 Sofia Airport", "officer_name": "Insp. Petar Dimov",
            "seizure_ref": "SR-2026-0042", "seized_at": SEIZED_AT,
            "seizure_place": "Sofia Airport, cargo terminal", "seals_received": SEAL,
            "questions": "Identify the substance."},
            case_prefix=settings.case_number_prefix,
            investigators=[db.session.merge(u) for u in investigators])
        sample = register_samples(tech, case, [{
            "description": "White powder in a heat-sealed bag", "packaging": "plastic bag",
            "unit_count": 1, "gross_weight_mg": 104_300, "net_weight_mg": 100_200,
            "seal_received": SEAL, "seal_intact": True}],
            lab_prefix=settings.lab_number_prefix)[0]
        hit = accepted_hit(app, chemist, sample)
        finding = approved_finding(app, chemist, reviewer, sample, hit)
        certificate = issue_certificate(reviewer, finding)
        db.session.commit()
        return {"number": certificate.number, "case": case.case_number,
                "sample": sample.lab_number, "finding_id": finding.id,
                "pdf_sha256": certificate.pdf_sha256, "tech": tech.username,
                "chemist": chemist.username, "reviewer": reviewer.username,
                "hit_id": hit.id}
