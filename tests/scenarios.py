"""The scenarios tests start from, built once per session through the real services.

``identified``: a chemist's sample with an FTIR measurement, an accepted library hit and a
legal status (the findings tests). ``approved``: a sealed item of a configured laboratory
(address, signing key) with an accepted hit and a finding submitted and approved.
``certified``: ``approved`` with its certificate issued. ``world`` (every kind of record a page
shows), ``portal`` and ``statistics`` are the starting points of those tests; the last two
write findings and certificates straight into the tables at chosen times.

Each scenario is built into a template, like the migrated schema in ``tests/conftest.py``: a
database (a SQLite file, or a PostgreSQL database used as ``TEMPLATE``) and its data folder
(file store, signing keys). A test that asks for the fixture of that name gets its own copy of
both, so building a finding or signing a certificate costs once per session, not per test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from lims.auth import services as auth_services
from lims.auth.models import User
from lims.certificates.models import Certificate
from lims.db import db
from lims.esign.models import Signature
from lims.findings.models import Finding, FindingSubstance
from lims.intake.models import Sample
from lims.library.models import Substance

PASSWORD = "correct horse battery staple"
LAB_NAME = "Customs Laboratory Sofia"
LAB_ADDRESS = "47 Aksakov Street\n1000 Sofia, Bulgaria"
SEAL = "BG-SEAL-004711"
SEIZED_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASE_DEFAULTS = {
    "seizure_ref": "SR-2026-0042",
    "proceedings_ref": "DP 12/2026",
    "customs_office": "BG001000 Sofia Airport",
    "officer_name": "Insp. Petar Dimov",
    "seizure_place": "Sofia Airport, cargo terminal",
    "direction": "import",
    "description": "Sealed bag of seized items.",
    "questions": "Identify the substance.",
}


def sample_items(n: int = 1, **fields) -> list[dict]:
    """The form values of n items of white powder (the defaults of the sample factory)."""
    return [{"description": f"Item {i + 1}: white powder", "packaging": "plastic bag",
             "unit_count": 1, **fields} for i in range(n)]


def new_case(app, actor, *, investigators=(), items: list[dict] | None = None, **fields):
    """A case with the case factory's defaults and its items registered: (case, samples)."""
    from lims.intake.services import create_case, register_samples

    settings = app.config["LIMS"]
    case = create_case(actor, {**CASE_DEFAULTS, **fields},
                       case_prefix=settings.case_number_prefix,
                       investigators=list(investigators))
    return case, register_samples(actor, case, items or sample_items(),
                                  lab_prefix=settings.lab_number_prefix)


def configure_lab(app) -> bytes:
    """Give the app a lab address and a signing key; return the CA certificate PEM."""
    from lims.signing import ca_file, init_keys

    settings = dataclasses.replace(app.config["LIMS"], lab_address=LAB_ADDRESS,
                                   lab_name=LAB_NAME)
    app.config["LIMS"] = settings
    if not settings.signing_key_file.exists():
        init_keys(settings, lab_name=LAB_NAME)
    return ca_file(settings).read_bytes()


def new_user(role: str, full_name: str | None = None, username: str | None = None) -> User:
    """A user with the test password; a random username unless one is given."""
    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    return auth_services.create_user(None, username, full_name or f"Test {username.title()}",
                                     role, PASSWORD)


# --- steps -----------------------------------------------------------------------------------


def identification_lab(app, make_user, make_case, make_samples) -> dict:
    """Seed a technician, a chemist, one sample with a cocaine-like FTIR spectrum, two libraries."""
    from lims.library.demo import ir_library_file, ms_library_file
    from lims.library.services import import_library
    from lims.measurements.services import import_file

    tech = make_user("technician", username="tanya")
    chem = make_user("chemist", username="dimitar", full_name="Dimitar Ivanov")
    sample = make_samples(tech, make_case(tech))[0]
    spectrum_file = seized_ftir()
    with app.app_context():
        actor = db.session.merge(chem)
        ir = import_library(actor, ir_library_file(), "ir.jdx", name="Demo IR", version="1")
        ms = import_library(actor, ms_library_file(), "ms.msp", name="Demo MS", version="1")
        measurement = import_file(actor, db.session.merge(sample), spectrum_file, "ftir.jdx",
                                  None, None)
        db.session.commit()
        ids = {"ir": ir.id, "ms": ms.id, "spectrum": measurement.spectra[0].id}
    return {**ids, "tech": tech, "chem": chem, "sample": sample,
            "spectrum_file": spectrum_file}


def seized_ftir() -> bytes:
    """The FTIR file of the seized powder: the demo cocaine absorbance with noise."""
    from lims.library.demo import jcamp_ir_block, noisy_cocaine_absorbance

    return jcamp_ir_block("seized powder", noisy_cocaine_absorbance(), {}).encode()


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
    from lims.findings import services as findings

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


def approved_item(app, *, investigators=()) -> dict:
    """A sealed item on a new case with an approved finding (flushed); plain values."""
    from lims.intake.services import create_case, register_samples

    configure_lab(app)
    tech = new_user("technician", "Tanya Petrova")
    chemist = new_user("chemist", "Dimitar Ivanov")
    reviewer = new_user("reviewer", "Elena Georgieva")
    settings = app.config["LIMS"]
    case = create_case(tech, {
        "customs_office": "BG001000 Sofia Airport", "officer_name": "Insp. Petar Dimov",
        "seizure_ref": "SR-2026-0042", "seized_at": SEIZED_AT,
        "seizure_place": "Sofia Airport, cargo terminal", "seals_received": SEAL,
        "questions": "Identify the substance."},
        case_prefix=settings.case_number_prefix, investigators=list(investigators))
    sample = register_samples(tech, case, [{
        "description": "White powder in a heat-sealed bag", "packaging": "plastic bag",
        "unit_count": 1, "gross_weight_mg": 104_300, "net_weight_mg": 100_200,
        "seal_received": SEAL, "seal_intact": True}],
        lab_prefix=settings.lab_number_prefix)[0]
    hit = accepted_hit(app, chemist, sample)
    finding = approved_finding(app, chemist, reviewer, sample, hit)
    return {"case": case.case_number, "sample": sample.lab_number, "finding_id": finding.id,
            "tech": tech.username, "chemist": chemist.username,
            "reviewer": reviewer.username, "hit_id": hit.id}


def issue(app, approved: dict) -> dict:
    """Issue the certificate of an approved item (flushed); its number and PDF hash added."""
    from lims.certificates.services import issue_certificate
    from lims.findings.models import Finding

    certificate = issue_certificate(auth_services.get_user(approved["reviewer"]),
                                    db.session.get(Finding, approved["finding_id"]))
    return {**approved, "number": certificate.number, "pdf_sha256": certificate.pdf_sha256}


def make_certificate(app) -> dict:
    """Issue a certificate on a new case and item, committed; return plain values."""
    with app.app_context():
        values = issue(app, approved_item(app))
        db.session.commit()
    return values


# --- the scenarios ---------------------------------------------------------------------------


def _identified(app, _parent: dict) -> dict:
    """Dimitar Ivanov's sample of 100 units with an accepted cocaine hit on its FTIR.

    A sample of another case (not the investigator's) has the same spectrum and hit accepted.
    """
    from lims.library.demo import ir_library_file, ms_library_file
    from lims.library.services import add_legal_status, import_library
    from lims.measurements.services import import_file
    from lims.processing import Recipe
    from lims.search.services import decide_hit, run_search

    def accept(sample, reason: str):
        measurement = import_file(chem, sample, seized_ftir(), "ftir.jdx", None, None)
        search = run_search(chem, measurement.spectra[0], ir, algorithm="hqi", top=3,
                            recipe=Recipe())
        decide_hit(chem, search.hits[0], "accepted", reason)
        return measurement, search

    tech = new_user("technician", username="tanya")
    chem = new_user("chemist", "Dimitar Ivanov", username="dimitar")
    other = new_case(app, tech)[1][0]
    ir = import_library(chem, ir_library_file(), "ir.jdx", name="Demo IR", version="1")
    import_library(chem, ms_library_file(), "ms.msp", name="Demo MS", version="1")
    reviewer = new_user("reviewer", "Elena Georgieva", username="elena")
    investigator = new_user("investigator", username="ivan")
    case, (sample,) = new_case(app, tech, investigators=[investigator],
                               items=sample_items(unit_count=100),
                               seized_at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
    measurement, search = accept(sample, "Matches the reference.")
    substance = search.hits[0].entry.substance
    add_legal_status(chem, substance, {
        "regime": "UN Single Convention 1961", "schedule": "Schedule I",
        "effective_from": date(1964, 12, 13), "effective_to": None,
        "reference": "Single Convention"})
    _, other_search = accept(other, "Matches.")
    return {"measurement": measurement.id, "spectrum": measurement.spectra[0].id,
            "search": search.id, "hit": search.hits[0].id, "rejected_hit": search.hits[1].id,
            "substance": substance.id, "substance_name": substance.name,
            "other_hit": other_search.hits[0].id, "tech": tech.id, "chem": chem.id,
            "reviewer": reviewer.id, "investigator": investigator.id,
            "sample": sample.lab_number, "other_sample": other.lab_number,
            "case": case.case_number}


def _approved(app, _parent: dict) -> dict:
    """``approved_item`` with an investigator ("inv-mine") assigned to its case."""
    investigator = new_user("investigator", username="inv-mine")
    return {**approved_item(app, investigators=[investigator]), "investigator": "inv-mine"}


def _certified(app, approved: dict) -> dict:
    """The certificate of ``approved``, issued."""
    configure_lab(app)
    return issue(app, approved)


def _world(app, _parent: dict) -> dict:
    """One record of every kind a page can show, and a certificate on a case of its own."""
    from lims.demo import demo_ir_jcamp
    from lims.findings.services import create_finding
    from lims.intake.services import create_location
    from lims.library.demo import ir_library_file
    from lims.library.services import add_legal_status, import_library
    from lims.measurements.services import create_instrument, import_file
    from lims.processing import Recipe
    from lims.search.services import decide_hit, run_search

    tech = new_user("technician", username="tech1")
    chemist = new_user("chemist", username="chem1")
    create_location(None, "VAULT-A", "Evidence store VAULT-A")
    case, (sample, _) = new_case(app, tech, items=sample_items(2))
    create_instrument(None, {"name": "FTIR-1", "technique": "IR"})
    measurement = import_file(tech, sample, (FIXTURES / "ir_small.jdx").read_bytes(), "ir.jdx",
                              None, None)
    library = import_library(chemist, ir_library_file(), "ir.jdx", name="Test IR library",
                             version="1")
    ftir = import_file(chemist, sample, demo_ir_jcamp(sample.lab_number), "ftir.jdx", None,
                       None)
    search = run_search(chemist, ftir.spectra[0], library, algorithm="hqi", top=3,
                        recipe=Recipe())
    substance = search.hits[0].entry.substance
    status = add_legal_status(chemist, substance, {
        "regime": "National list", "schedule": "List I",
        "effective_from": date(2020, 1, 1), "effective_to": None, "reference": "test"})
    decide_hit(chemist, search.hits[0], "accepted", "matches")
    finding = create_finding(chemist, sample, {
        "result": "identified", "limitations": "none", "conclusion": "Contains it.",
        "substances": [{"substance_id": substance.id}],
        "techniques": [{"technique": "IR", "search_hit_id": search.hits[0].id}]})
    certificate = issue(app, approved_item(app))  # on a case of its own: investigators get 404
    return {"tech": tech.id, "case": case.case_number, "sample": sample.lab_number,
            "measurement": measurement.id, "spectrum": measurement.spectra[0].id,
            "library": library.id, "substance": substance.id, "status": status.id,
            "search": search.id, "hit": search.hits[0].id, "finding": finding.id,
            "certificate": certificate["number"]}


def _portal(app, _parent: dict) -> dict:
    """An investigator with one assigned case (two items, one certified) and a case not theirs."""
    tech = new_user("technician", username="tech")
    investigator = new_user("investigator", username="inv")
    reviewer = new_user("reviewer", username="rev")
    mine, (first, _) = new_case(app, tech, investigators=[investigator],
                                items=sample_items(2), seizure_ref="SR-MINE-1")
    theirs, _ = new_case(app, tech, seizure_ref="SR-OTHER-2")
    finding = finding_row(reviewer, first, ["Cocaine"], datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    certificate = certificate_row(reviewer, finding, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    return {"mine": mine.case_number, "theirs": theirs.case_number,
            "certificate": certificate.number, "first": first.lab_number}


def _statistics(app, _parent: dict) -> dict:
    """Three cases in spring 2026 from two offices, with findings and certificates."""
    from lims.intake.services import register_subsample

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    def received(office: str, when: str, item_times: list[str]) -> list[Sample]:
        case, samples = new_case(app, tech, customs_office=office,
                                 items=sample_items(len(item_times)))
        case.received_at = at(when)
        for sample, created in zip(samples, item_times, strict=True):
            sample.created_at = at(created)
        return samples

    tech = new_user("technician", username="tech")
    rev = new_user("reviewer", username="head")
    new_user("admin", username="admin")
    # Week 2026-W10 runs Monday 2 March to Sunday 8 March.
    a = received("Sofia Airport", "2026-03-02 08:00",
                 ["2026-03-02 08:00", "2026-03-04 12:00", "2026-03-08 23:59"])
    b = received("Varna Port", "2026-03-09 00:00", ["2026-03-09 00:00"])
    c = received("Sofia Airport", "2026-04-20 10:00", ["2026-04-20 10:00"])
    register_subsample(tech, a[0], {"description": "sub", "unit_count": 1})  # not received
    findings = [
        finding_row(rev, a[0], ["Cocaine"], at("2026-03-06 10:00")),
        finding_row(rev, a[1], ["Cocaine", "Levamisole"], at("2026-03-20 10:00")),
        finding_row(rev, b[0], ["Heroin"], at("2026-04-02 10:00")),
        finding_row(rev, c[0], ["Cocaine"], at("2026-05-02 10:00"), version=2),
        finding_row(rev, a[2], [], at("2026-03-21 10:00"), result="not_detected"),
        finding_row(rev, c[0], ["Cannabis"], at("2026-04-25 10:00"), status="superseded"),
    ]
    certificate_row(rev, findings[0], at("2026-03-06 08:00"))  # case a: 4 days
    certificate_row(rev, findings[1], at("2026-03-20 08:00"))  # later: not the first
    certificate_row(rev, findings[2], at("2026-03-19 00:00"))  # case b: 10 days
    certificate_row(rev, findings[3], at("2026-05-02 10:00"))  # case c: 12 days
    return {"tech": tech.id, "head": rev.id}


# --- rows written straight into the tables, at chosen times ----------------------------------
# The statistics and the portal only read these rows; building them through the signing and
# review workflow would test that workflow again and could not place them in time.

_numbers = itertools.count(1)


def substance(name: str) -> Substance:
    """The substance of that name, created when missing."""
    found = db.session.scalar(db.select(Substance).where(Substance.name == name))
    if found is None:
        found = Substance(name=name, cas=None, formula="", notes="")
        db.session.add(found)
        db.session.flush()
    return found


def finding_row(author: User, sample: Sample, names: list[str], approved_at: datetime,
                *, status: str = "approved", result: str = "identified",
                version: int = 1) -> Finding:
    """A finding of the sample naming the substances, approved at the given time."""
    finding = Finding(sample_id=sample.id, version=version, status=status, result=result,
                      limitations="none", author_id=author.id, submitted_at=approved_at,
                      reviewed_at=approved_at, reviewed_by_id=author.id)
    db.session.add(finding)
    db.session.flush()
    for position, name in enumerate(names):
        db.session.add(FindingSubstance(finding_id=finding.id, substance_id=substance(name).id,
                                        salt_form="", position=position))
    db.session.flush()
    return finding


def certificate_row(reviewer: User, finding: Finding, issued_at: datetime, *,
                    status: str = "issued") -> Certificate:
    """A certificate row for an approved finding, issued at the given time."""
    n = next(_numbers)
    digest = hashlib.sha256(f"certificate {n}".encode()).hexdigest()
    signature = Signature(user_id=reviewer.id, printed_name=reviewer.full_name,
                          meaning="approved", signed_at=issued_at, subject_type="finding",
                          subject_id=str(finding.id), content_sha256=digest)
    db.session.add(signature)
    db.session.flush()
    sample = db.session.get(Sample, finding.sample_id)
    certificate = Certificate(
        number=f"CL-CERT-{issued_at.year}-{n:05d}", case_id=sample.case_id,
        sample_id=sample.id, finding_id=finding.id, status=status, snapshot_json="{}",
        snapshot_sha256=digest, pdf_sha256=digest, pdf_size=1, token_sha256=digest,
        issued_at=issued_at, issued_by_id=reviewer.id, signature_id=signature.id)
    db.session.add(certificate)
    db.session.flush()
    return certificate


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """How to build a scenario: on top of another one (or the migrated schema), returning values."""

    build: Callable[..., dict]
    parent: str | None = None
    users: tuple[str, ...] = ()  # values that name users, handed to tests as User objects


SCENARIOS: dict[str, Scenario] = {
    "identified": Scenario(_identified, users=("tech", "chem", "reviewer", "investigator")),
    "approved": Scenario(_approved),
    "certified": Scenario(_certified, parent="approved"),
    "world": Scenario(_world, users=("tech",)),  # tests/test_pages.py
    "portal": Scenario(_portal),  # tests/portal
    "statistics": Scenario(_statistics, users=("tech", "head")),  # tests/stats
}


@dataclass(frozen=True)
class Built:
    """A scenario's template: the backend's database handle, its data folder and values."""

    database: object
    data_dir: Path
    values: dict


class Scenarios:
    """Builds each scenario once, on first use, into a template of the test backend."""

    def __init__(self, databases, root: Path, make_app: Callable):
        self.databases = databases
        self.root = root
        self.make_app = make_app  # (database_url, data_dir) -> context of an app
        self.built: dict[str, Built] = {}

    def template(self, name: str) -> Built:
        """The template of the scenario, built (with its parents) on first use."""
        if name not in self.built:
            scenario = SCENARIOS[name]
            parent = self.template(scenario.parent) if scenario.parent else None
            folder = self.root / name
            data_dir = folder / "data"
            if parent is None:
                data_dir.mkdir(parents=True, exist_ok=True)  # again after a failed build
            else:
                shutil.copytree(parent.data_dir, data_dir, dirs_exist_ok=True)
            url, database = self.databases.derive(folder, parent and parent.database)
            with self.make_app(url, data_dir) as app:
                try:
                    with app.app_context():
                        values = scenario.build(app, parent.values if parent else {})
                        db.session.commit()
                finally:
                    self.databases.seal(app, database)
            self.built[name] = Built(database, data_dir, values)
        return self.built[name]

    def copy_files(self, name: str, data_dir: Path) -> object:
        """Copy the scenario's data folder into a test's; return its database template."""
        built = self.template(name)
        shutil.copytree(built.data_dir, data_dir, dirs_exist_ok=True)
        return built.database

    def values(self, name: str, app) -> dict:
        """The scenario's values for one test, with its users loaded (detached) from its copy."""
        values = dict(self.built[name].values)
        with app.app_context():
            for key in SCENARIOS[name].users:
                user = db.session.get(User, values[key])
                db.session.expunge(user)
                values[key] = user
        return values
