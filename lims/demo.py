"""Demo data: users, locations, cases, samples, custody events and reference libraries."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from flask import current_app
from sqlalchemy import select

from lims.auth.models import User
from lims.auth.services import create_user, get_user
from lims.certificates.models import Certificate
from lims.certificates.services import approve_and_issue
from lims.custody.services import Party, transfer
from lims.db import db, utcnow
from lims.findings import services as findings
from lims.intake.models import Sample
from lims.intake.services import (
    create_case,
    create_location,
    get_location,
    register_samples,
    register_subsample,
)
from lims.library.demo import (
    LIBRARY_NAME,
    SUBSTANCES,
    jcamp_ir_block,
    noisy_cocaine_absorbance,
    seed_demo_libraries,
)
from lims.library.services import get_library_by_name
from lims.measurements.services import create_instrument, import_file
from lims.processing import Recipe
from lims.search.services import decide_hit, run_search
from lims.signing import init_keys


def demo_ei_msp(title: str) -> bytes:
    """A synthetic GC-MS spectrum of the seized powder: the demo cocaine ions, a little noise."""
    rng = np.random.default_rng(2027)
    ions = dict(SUBSTANCES[0].ions)
    noisy = {mz: max(1, round(i * float(rng.lognormal(0, 0.08)))) for mz, i in ions.items()}
    noisy.update({57: 35, 149: 22})  # column bleed and a phthalate: peaks not in the reference
    peaks = "\n".join(f"{mz} {i}" for mz, i in sorted(noisy.items()))
    return (f"Name: {title} white powder (demo)\nComments: GCMS-1, RT 11.42 min\n"
            f"Num Peaks: {len(noisy)}\n{peaks}\n").encode()


def demo_ir_jcamp(title: str) -> bytes:
    """A synthetic ATR-FTIR spectrum of the seized powder: the demo library's cocaine, noisy."""
    return jcamp_ir_block(f"{title} white powder (demo)", noisy_cocaine_absorbance(), {
        "ORIGIN": "Customs LIMS demo data", "OWNER": "public domain",
        "SPECTROMETER/DATA SYSTEM": "Thermo Nicolet iS50"}).encode()


def demo_certificates() -> list[tuple[str, str]]:
    """(certificate number, lab number) of the issued certificates, for the demo's welcome."""
    rows = db.session.execute(select(Certificate.number, Sample.lab_number)
                              .join(Sample, Sample.id == Certificate.sample_id)
                              .order_by(Certificate.id))
    return [(number, lab_number) for number, lab_number in rows]


def _identify_and_certify(users: dict, brick, vial, infrared, mass) -> None:
    """The whole journey for one brick: searches, accepted hits, finding, review, certificate."""
    settings = current_app.config["LIMS"]
    if not settings.signing_key_file.exists():
        init_keys(settings, lab_name=settings.lab_name)
    chem, review = users["chem"], users["review"]
    ir_search = run_search(chem, infrared.spectra[0], get_library_by_name(f"{LIBRARY_NAME} IR"),
                           algorithm="hqi", top=10,
                           recipe=Recipe(masks=((2400.0, 2280.0),)))
    decide_hit(chem, ir_search.hits[0], "accepted",
               "All bands match the reference above 650 cm-1; overlay checked.")
    ms_search = run_search(chem, mass.spectra[0], get_library_by_name(f"{LIBRARY_NAME} EI-MS"),
                           algorithm="nist_identity", top=10, recipe=Recipe())
    decide_hit(chem, ms_search.hits[0], "accepted",
               "Base peak 82 and 182, 303 molecular ion; extra 57/149 are background.")
    finding = findings.create_finding(chem, brick, {
        "result": "identified", "limitations": "Enantiomers were not differentiated.",
        "conclusion": "The white powder of this brick contains cocaine, as the hydrochloride.",
        "substances": [{"substance_id": ir_search.hits[0].entry.substance_id,
                        "salt_form": "hydrochloride"}],
        "techniques": [
            {"technique": "IR", "search_hit_id": ir_search.hits[0].id,
             "aliquot": brick.lab_number, "method_ref": "SOP-IR-01 v3"},
            {"technique": "GC-MS", "search_hit_id": ms_search.hits[0].id,
             "aliquot": vial.lab_number, "method_ref": "SOP-GCMS-02 v5"}]})
    findings.set_net_weight(chem, finding, {"method": "measured",
                                            "net_weight_mg": brick.net_weight_mg})
    findings.submit(chem, finding, DEMO_USERS[1][3])
    approve_and_issue(review, finding, DEMO_USERS[2][3])


DEMO_USERS = (
    ("tech", "Tanya Petrova", "technician", "demo-technician-2026"),
    ("chem", "Dimitar Ivanov", "chemist", "demo-chemist-2026"),
    ("review", "Elena Georgieva", "reviewer", "demo-reviewer-2026"),
    ("inv", "Ivan Stoyanov", "investigator", "demo-investigator-2026"),
    ("admin", "Maria Koleva", "admin", "demo-admin-2026"),
)
DEMO_LAB_ADDRESS = "Demo address: 1 Example Street, 1000 Sofia, Bulgaria (demo data)"
LOCATIONS = (("VAULT-A", "Evidence vault A"), ("SAFE-1", "Drug safe 1"),
             ("FRIDGE-2", "Cold store 2"))


def seed() -> bool:
    """Seed an empty database; return False when the demo data is already there."""
    if db.session.scalar(select(User.id).where(User.username == "tech")):
        return seed_demo_libraries(get_user("chem"))  # a data folder from before the libraries
    settings = current_app.config["LIMS"]
    users = {u: create_user(None, u, name, role, pw) for u, name, role, pw in DEMO_USERS}
    for code, name in LOCATIONS:
        create_location(users["admin"], code, name)
    tech, chem = users["tech"], users["chem"]
    seed_demo_libraries(chem)
    vault = Party(location=get_location("VAULT-A"))

    port = create_case(tech, {
        "seizure_ref": "BG-VAR-2026-0117", "proceedings_ref": "DP 412/2026",
        "customs_office": "BG002000 Varna Port", "officer_name": "Insp. Nikolay Dimov",
        "seized_at": utcnow() - timedelta(days=2), "seizure_place": "Varna West terminal",
        "direction": "import", "detection_method": "risk profile",
        "container_number": "CSQU3054383", "mrn": "24BG1000A000000124", "hs_code": "090111",
        "conveyance": "MSC Aurora, IMO 9074729", "seals_received": "BG0071234,BG0071235",
        "description": "Bricks of white powder hidden in coffee sacks.",
        "questions": "Identify the substance. Is it a controlled drug? Net weight?",
    }, case_prefix=settings.case_number_prefix, investigators=[users["inv"]])
    bricks = register_samples(tech, port, [
        {"description": "Brick of white powder wrapped in black tape", "packaging": "tape",
         "unit_count": 1, "gross_weight_mg": 1_104_300, "net_weight_mg": 1_002_100,
         "seal_received": "BG0071234", "seal_intact": True},
        {"description": "Brick of white powder wrapped in black tape", "packaging": "tape",
         "unit_count": 1, "gross_weight_mg": 1_098_700, "net_weight_mg": 998_400,
         "seal_received": "BG0071235", "seal_intact": True},
    ], lab_prefix=settings.lab_number_prefix)
    transfer(tech, bricks[0], expected_from=f"user:{tech.username}", to=vault,
             seal_found="BG0071234", seal_intact=True, note="Into the vault after intake.")
    transfer(tech, bricks[1], expected_from=f"user:{tech.username}", to=Party(user=chem),
             receiver_password=DEMO_USERS[1][3], seal_found="BG0071235", seal_intact=True,
             note="For FTIR and GC-MS.")
    vial = register_subsample(chem, bricks[1], {"description": "500 mg of powder for GC-MS",
                                                "packaging": "glass vial", "net_weight_mg": 500,
                                                "current_seal": "LAB-000101"})
    today = utcnow().date()
    ftir = create_instrument(users["admin"], {
        "name": "FTIR-1", "model": "Thermo Nicolet iS50 ATR", "serial": "AUP1910423",
        "technique": "IR", "default_adapter": "jcamp",
        "calibration_due": today + timedelta(days=120)})
    create_instrument(users["admin"], {
        "name": "RAMAN-HH-1", "model": "Thermo TruNarc (exports SPC)", "serial": "TN-20417",
        "technique": "Raman", "default_adapter": "spc",
        "calibration_due": today - timedelta(days=3)})
    gcms = create_instrument(users["admin"], {
        "name": "GCMS-1", "model": "Agilent 8890/5977B", "serial": "US2024-0077",
        "technique": "MS", "calibration_due": today + timedelta(days=40)})
    infrared = import_file(chem, bricks[1], demo_ir_jcamp(bricks[1].lab_number),
                           "FTIR-1_brick2.jdx", None, ftir)
    mass = import_file(chem, vial, demo_ei_msp(vial.lab_number), "GCMS-1_brick2-1.msp", None,
                       gcms)
    _identify_and_certify(users, bricks[1], vial, infrared, mass)

    border = create_case(tech, {
        "seizure_ref": "BG-KAP-2026-0342", "customs_office": "BG005800 Kapitan Andreevo",
        "officer_name": "Insp. Petya Marinova", "seized_at": utcnow() - timedelta(days=1),
        "seizure_place": "Kapitan Andreevo BCP", "direction": "import",
        "detection_method": "x-ray / NII", "conveyance": "Truck PB 1234 AB",
        "seals_received": "KA-5531",
        "description": "Unlabelled cartons of cigarettes and a canister of liquid.",
        "questions": "Are the cigarettes counterfeit? Identify the liquid (precursor?).",
    }, case_prefix=settings.case_number_prefix)
    register_samples(tech, border, [
        {"description": "Carton of 'Marlboro' cigarettes, 10 packs", "packaging": "carton",
         "unit_count": 10, "gross_weight_mg": 215_000, "seal_received": "KA-5531",
         "seal_intact": True},
        {"description": "Canister of colourless liquid, 5 L", "packaging": "HDPE canister",
         "unit_count": 1, "gross_weight_mg": 4_870_000, "seal_received": "KA-5531",
         "seal_intact": True},
    ], lab_prefix=settings.lab_number_prefix)
    return True
