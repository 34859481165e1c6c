"""Issuing, amending, withdrawing and verifying certificates; the case packet.

An issued certificate is never changed: its signed PDF sits write-once in the file store under
its SHA-256, and only its status (superseded, withdrawn) moves, audited. The verification token
is 24 random bytes (192 bits, `secrets.token_urlsafe(24)`) printed only in the PDF's QR code;
the database keeps its SHA-256, so a copy of the database cannot forge verification links and
guessing a token is hopeless at any request rate (the rate limit only protects the CPU that
PDF validation costs).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from flask import current_app, has_request_context, render_template, request
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from lims.audit.export import audit_extract_csv, audit_extract_pdf
from lims.audit.services import canonical_json, record
from lims.auth import throttle
from lims.auth.access import can, require, visible_to
from lims.auth.models import User
from lims.barcodes import qr_png
from lims.certificates.models import Certificate, CertificateRevision
from lims.certificates.snapshot import FORMATTERS, build_snapshot, freeze
from lims.config import Settings
from lims.custody.export import custody_log_csv, custody_log_pdf
from lims.db import db, utcnow
from lims.errors import Conflict, Invalid, NotFound
from lims.esign.services import confirm_signer, signatures_for
from lims.failpoints import failpoint
from lims.files import file_store
from lims.findings.models import Finding
from lims.findings.services import approve, reopen
from lims.intake.models import Case
from lims.intake.services import allocate
from lims.library.services import entry_series
from lims.measurements.models import Measurement, SpectrumRecord
from lims.measurements.services import raw_bytes
from lims.pdf import data_uri, render_pdf
from lims.plots import overlay_figure, to_png
from lims.series import Series
from lims.signing import (
    SigningUnavailable,
    archive_pdf,
    ca_file,
    sign_pdf,
    trusted_pem,
    verify_pdf,
)

TOKEN_BYTES = 24
QR_MODULE_PX = 8
FIGURE_DPI = 150
VERIFY_PER_MINUTE = 30  # per client address: a person checks a few documents, not thousands
SIGN_REASON = "Approved and released"
_NUMBER = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")


def token_digest(token: str) -> str:
    """SHA-256 of a verification token (the only form the database keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _settings() -> Settings:
    return current_app.config["LIMS"]


def _subject(certificate: Certificate) -> dict:
    return {"case_id": certificate.case_id, "sample_id": certificate.sample_id}


def _public_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url
    return request.host_url.rstrip("/") if has_request_context() else "http://localhost"


def verify_url(token: str, settings: Settings | None = None) -> str:
    """The URL a certificate's QR code carries."""
    return f"{_public_url(settings or _settings())}/verify/{token}"


# --- rendering and issuing ----------------------------------------------------------------


def overlay_figures(actor: User, frozen: dict) -> list[dict]:
    """Each accepted library hit overlaid on the sample spectrum, as a PNG data: URI."""
    figures = []
    for technique in frozen["finding"]["techniques"]:
        search = technique.get("search")
        if not search or not search.get("spectrum_id") or not search.get("entry_id"):
            continue
        record_ = db.session.get(SpectrumRecord, int(search["spectrum_id"]))
        if record_ is None:
            continue
        sample = Series(label=f"{frozen['item']['lab_number']} ({technique['name']})",
                        x=record_.x, y=record_.y, x_unit=record_.x_unit, y_unit=record_.y_unit,
                        technique=record_.technique, kind=record_.kind)
        reference = entry_series(actor, int(search["entry_id"]))
        sticks = sample.kind == reference.kind == "peaks"
        figure = overlay_figure([sample, reference], normalised=True, width=7.0, height=2.8,
                                mirrored=sticks,
                                title=f"{technique['name']}: sample and accepted reference "
                                      f"{search['substance']}"
                                      + (" (head to tail)" if sticks else ""))
        figure.set_dpi(FIGURE_DPI)  # print resolution; fonts keep their size in points
        figures.append({"technique": technique["name"], "substance": search["substance"],
                        "score": search.get("score"), "library": search.get("library"),
                        "library_version": search.get("library_version"),
                        "algorithm": search.get("algorithm_label") or search.get("algorithm"),
                        "src": data_uri(to_png(figure))})
    return figures


def render_certificate(frozen: dict, *, url: str, figures: list[dict]) -> bytes:
    """The unsigned PDF of a frozen snapshot: one template, WeasyPrint, nothing fetched."""
    html = render_template("certificates/certificate.html", c=frozen, verify_url=url,
                           verify_page=url.rsplit("/", 1)[0],
                           qr_src=data_uri(qr_png(url, module_px=QR_MODULE_PX)),
                           figures=figures, **FORMATTERS)
    return render_pdf(html)


def sign_certificate(pdf: bytes, settings: Settings, number: str) -> bytes:
    """Certify the PDF with the lab's key and check the result before anything is stored."""
    signed = sign_pdf(pdf, settings, reason=f"{SIGN_REASON}: {number}",
                      location=settings.lab_address or settings.lab_name)
    check = verify_pdf(signed, trusted_pem(settings))
    if check.status != "valid":  # RELIABILITY.md PS-05: release is blocked
        raise SigningUnavailable(f"The signed certificate {number} does not verify: "
                                 f"{check.reason}", "LIMS_SIGNING_P12")
    return signed


def _ca_pem(settings: Settings) -> bytes | None:
    path = ca_file(settings)
    return path.read_bytes() if path.is_file() else None


def certificate_of(finding_id: int | None) -> Certificate | None:
    """The certificate issued from a finding, if any."""
    if finding_id is None:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.finding_id == finding_id))


def _approval(finding):
    approvals = [s for s in signatures_for("finding", str(finding.id))
                 if s.meaning == "approved" and s.content_sha256 == finding.snapshot_sha256]
    if not approvals:
        raise Conflict(f"Finding {finding.id} carries no approval signature.", "finding")
    return approvals[-1]


def issue_certificate(actor: User, finding: Finding) -> Certificate:
    """Freeze, render, sign and store the certificate of an approved finding.

    When the finding supersedes one with an issued certificate, the new certificate amends it
    and the old one becomes superseded.
    """
    require(actor, "certificate.issue")
    settings = _settings()
    if finding.status != "approved":
        raise Conflict(f"Finding {finding.id} is {finding.status}; only an approved finding "
                       "gets a certificate.", "finding")
    if certificate_of(finding.id) is not None:
        raise Conflict(f"Finding {finding.id} already has a certificate.", "finding")
    if not settings.lab_address.strip():
        raise SigningUnavailable("The laboratory's address is not configured: set "
                                 "LIMS_LAB_ADDRESS (ISO/IEC 17025 7.8.2.1 b).", "LIMS_LAB_ADDRESS")
    amends = certificate_of(finding.supersedes_id)
    if amends is not None and amends.status != "issued":
        raise Conflict(f"Certificate {amends.number} is {amends.status}; it cannot be amended.",
                       "finding")
    signature = _approval(finding)
    issued_at = utcnow()
    year = issued_at.year
    number = (f"{settings.lab_number_prefix}-{settings.certificate_prefix}-{year}-"
              f"{allocate(f'certificate:{year}'):05d}")
    reason = finding.amendment_reason if amends is not None else None
    text, digest, frozen = freeze(build_snapshot(
        actor, finding, settings, number=number, issued_at=issued_at, amends=amends,
        amendment_reason=reason))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    pdf = sign_certificate(render_certificate(frozen, url=verify_url(token, settings),
                                              figures=overlay_figures(actor, frozen)),
                           settings, number)
    certificate = Certificate(
        number=number, case_id=finding.sample.case_id, sample_id=finding.sample_id,
        finding_id=finding.id, amends_id=amends.id if amends else None,
        amendment_reason=reason, status="issued", snapshot_json=text, snapshot_sha256=digest,
        pdf_sha256=file_store().put(pdf), pdf_size=len(pdf), token_sha256=token_digest(token),
        issued_at=issued_at, issued_by_id=actor.id, signature_id=signature.id)
    db.session.add(certificate)
    db.session.flush()
    record(actor, "certificate_issued", "certificate", number,
           new={"finding_id": finding.id, "snapshot_sha256": digest,
                "pdf_sha256": certificate.pdf_sha256, "amends": amends.number if amends else None},
           reason=reason, **_subject(certificate))
    if amends is not None:
        record(actor, "certificate_superseded", "certificate", amends.number, field="status",
               old=amends.status, new=f"superseded by {number}", reason=reason,
               **_subject(amends))
        amends.status, amends.superseded_by_id = "superseded", certificate.id
    failpoint("certificate.stored")
    return certificate


def approve_and_issue(reviewer: User, finding: Finding, password: str,
                      code: str = "") -> Certificate:
    """Approve the finding (reviewed + approved signatures), then issue its certificate."""
    approve(reviewer, finding, password, code)
    return issue_certificate(reviewer, finding)


def _change_reason(certificate: Certificate, reason: str, change: str, done: str) -> str:
    """The stripped reason of a change (amendment, withdrawal) to an issued certificate."""
    if not (reason or "").strip():
        raise Invalid(f"Give the reason for the {change}.", "reason")
    if certificate.status != "issued":
        raise Conflict(f"Certificate {certificate.number} is {certificate.status}; only an "
                       f"issued certificate can be {done}.", "reason")
    return reason.strip()


def amend(actor: User, certificate: Certificate, reason: str):
    """Open a new version of the certificate's finding; its approval issues the amendment."""
    require(actor, "certificate.amend")
    reason = _change_reason(certificate, reason, "amendment", "amended")
    finding = reopen(actor, certificate.finding, reason)
    record(actor, "certificate_amendment_opened", "certificate", certificate.number,
           new={"finding_id": finding.id}, reason=reason, **_subject(certificate))
    return finding


def withdraw(actor: User, certificate: Certificate, password: str, reason: str,
             code: str = "") -> None:
    """Withdraw an issued certificate without replacement (password and reason, audited)."""
    require(actor, "certificate.withdraw")
    reason = _change_reason(certificate, reason, "withdrawal", "withdrawn")
    confirm_signer(actor, password, code)
    record(actor, "certificate_withdrawn", "certificate", certificate.number, field="status",
           old=certificate.status, new="withdrawn", reason=reason, **_subject(certificate))
    certificate.status = "withdrawn"
    certificate.withdrawn_at, certificate.withdrawn_by_id = utcnow(), actor.id
    certificate.withdrawal_reason = reason


# --- reading, scoped ------------------------------------------------------------------------


def _visible(user: User):
    return visible_to(user, select(Certificate))


def list_certificates(user: User, case: Case | None = None) -> list[Certificate]:
    """Certificates the user may see (investigators: their cases), newest first."""
    require(user, "certificate.view")
    query = _visible(user)
    if case is not None:
        query = query.where(Certificate.case_id == case.id)
    return list(db.session.scalars(query.order_by(Certificate.id.desc())))


def get_certificate(user: User, number: str) -> Certificate:
    """A visible certificate by number, else NotFound (also outside the investigator's cases)."""
    require(user, "certificate.view")
    number = number.strip().upper()
    certificate = None if not _NUMBER.fullmatch(number) else db.session.scalar(
        _visible(user).where(Certificate.number == number))
    if certificate is None:
        raise NotFound(f"No certificate {number}.", "number")
    return certificate


def open_certificate(user: User, number: str) -> Certificate:
    """get_certificate, audited as "certificate_viewed" when the reader is an investigator."""
    certificate = get_certificate(user, number)
    if user.role == "investigator":
        record(user, "certificate_viewed", "certificate", certificate.number,
               **_subject(certificate))
    return certificate


def certificate_pdf(user: User, certificate: Certificate) -> bytes:
    """The signed bytes as issued or archived (re-hashed on read); investigators' reads audited."""
    data = file_store().get(certificate.current_sha256)
    if user.role == "investigator":
        record(user, "certificate_downloaded", "certificate", certificate.number,
               new=certificate.current_sha256, **_subject(certificate))
    return data


def snapshot_of(certificate: Certificate) -> dict:
    """The frozen snapshot as it was printed."""
    return json.loads(certificate.snapshot_json)


def history_of(certificate: Certificate) -> list[Certificate]:
    """All versions of a certificate, the first issued first."""
    first = certificate
    while first.amends is not None:
        first = first.amends
    chain = [first]
    while chain[-1].superseded_by is not None:
        chain.append(chain[-1].superseded_by)
    return chain


def certificates_to_archive(renew: bool = False) -> list[Certificate]:
    """Certificates without an archival time-stamp yet (all of them when renewing)."""
    query = select(Certificate).order_by(Certificate.id)
    if not renew:
        query = query.where(~Certificate.revisions.any())
    return list(db.session.scalars(query))


def archive_certificate(actor: User | None, certificate: Certificate) -> CertificateRevision:
    """Add a B-LTA document time-stamp to a certificate as a new write-once revision."""
    settings = _settings()
    later = archive_pdf(file_store().get(certificate.current_sha256), settings)
    check = verify_pdf(later, trusted_pem(settings))
    if check.status != "valid" or not check.archive_timestamps:
        raise SigningUnavailable(f"The archived certificate {certificate.number} does not "
                                 f"verify: {check.reason}", "LIMS_TSA_URL")
    revision = CertificateRevision(
        certificate=certificate, seq=len(certificate.revisions) + 1, kind="document-timestamp",
        sha256=file_store().put(later), size=len(later),
        timestamped_at=check.archive_timestamps[-1])
    db.session.add(revision)
    db.session.flush()
    record(actor, "certificate_archived", "certificate", certificate.number,
           old=certificate.revisions[-2].sha256 if len(certificate.revisions) > 1
           else certificate.pdf_sha256,
           new={"sha256": revision.sha256, "revision": revision.seq,
                "timestamped_at": revision.timestamped_at.isoformat()},
           **_subject(certificate))
    return revision


# --- verification (public) ------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The answer of the public verification: status, message and the registered facts."""

    status: str  # authentic, superseded, withdrawn, altered, not_issued, unknown
    message: str
    sha256: str | None = None
    certificate: Certificate | None = None
    signer: str | None = None
    signed_at: datetime | None = None

    @property
    def found(self) -> bool:
        """False only for a verification code that matches nothing."""
        return self.status != "unknown"

    def as_json(self) -> dict:
        """The API answer (no personal data beyond the authorising signer's name)."""
        cert = self.certificate
        superseded_by = cert.superseded_by.number if cert and cert.superseded_by else None
        return {
            "status": self.status, "message": self.message,
            "certificate_number": cert.number if cert else None,
            "issued_at": cert.issued_at.isoformat() if cert else None,
            "signer": self.signer,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "sha256": self.sha256, "registered_sha256": cert.pdf_sha256 if cert else None,
            "superseded_by": superseded_by,
            "withdrawn_at": cert.withdrawn_at.isoformat() if cert and cert.withdrawn_at
            else None,
            "withdrawal_reason": cert.withdrawal_reason if cert else None,
        }


def _registered(certificate: Certificate, digest: str | None = None) -> VerifyResult:
    signer, signed_at = certificate.signature.printed_name, certificate.signature.signed_at
    if certificate.status == "superseded":
        successor = certificate.superseded_by
        message = (f"Certificate {certificate.number} was issued by this laboratory and has been"
                   f" superseded by {successor.number} ({successor.issued_at:%Y-%m-%d}): "
                   f"{successor.amendment_reason}")
    elif certificate.status == "withdrawn":
        message = (f"Certificate {certificate.number} was issued by this laboratory and was "
                   f"withdrawn on {certificate.withdrawn_at:%Y-%m-%d}: "
                   f"{certificate.withdrawal_reason}")
    else:
        message = (f"Certificate {certificate.number} is authentic: issued by this laboratory "
                   "and in force.")
    revision = next((r for r in certificate.revisions if r.sha256 == digest), None)
    if revision is not None:
        message += (f" This copy is archival revision {revision.seq}: the signed certificate "
                    f"with a document time-stamp of {revision.timestamped_at:%Y-%m-%d %H:%M} "
                    "UTC added.")
    status = "authentic" if certificate.status == "issued" else certificate.status
    return VerifyResult(status, message, digest or certificate.pdf_sha256, certificate, signer,
                        signed_at)


def check_verify_rate(client: str | None) -> None:
    """At most VERIFY_PER_MINUTE verifications a minute from one client address (429 beyond).

    Counted on the shared throttle store, so the limit holds across all worker processes.
    """
    throttle.hit(f"verify:{(client or '-')[:150]}", VERIFY_PER_MINUTE, timedelta(minutes=1),
                 "Too many verifications from this address; wait a minute.")


def verify_token(token: str) -> VerifyResult:
    """The status of the certificate a QR code's token belongs to."""
    token = (token or "").strip()
    certificate = None if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token) else \
        db.session.scalar(select(Certificate).where(
            Certificate.token_sha256 == token_digest(token)))
    if certificate is None:
        return VerifyResult("unknown", "No certificate has this verification code. Check that "
                                       "it was typed exactly as printed.")
    return _registered(certificate)


def _title(pdf: bytes) -> str | None:
    """The /Title the template writes (the certificate number), if the file still has one."""
    try:
        title = str(PdfFileReader(io.BytesIO(pdf), strict=False).trailer_view["/Info"]["/Title"])
    except Exception:  # a damaged file simply has no readable title
        return None
    return title.strip().upper() or None


def _signed_by_lab(pdf: bytes, settings: Settings) -> bool:
    """True when the first signature's certificate was issued by the laboratory's CA."""
    ca_pem = _ca_pem(settings)
    if ca_pem is None:
        return False
    try:
        embedded = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
        signer = x509.load_der_x509_certificate(embedded.signer_cert.dump())
        signer.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except Exception:  # no signature, a foreign one, or unreadable bytes
        return False
    return True


def verify_upload(pdf: bytes) -> VerifyResult:
    """Judge an uploaded PDF: a registered certificate, one altered since signing, or foreign."""
    digest = hashlib.sha256(pdf).hexdigest()
    certificate = db.session.scalar(select(Certificate).where(Certificate.pdf_sha256 == digest))
    if certificate is None:  # or a later archival revision of one
        certificate = db.session.scalar(select(Certificate).join(CertificateRevision).where(
            CertificateRevision.sha256 == digest))
    if certificate is not None:
        return _registered(certificate, digest)
    settings = _settings()
    check = verify_pdf(pdf, trusted_pem(settings))
    if check.status in ("altered", "valid") and _signed_by_lab(pdf, settings):
        title = _title(pdf)
        named = db.session.scalar(select(Certificate).where(Certificate.number == title)) \
            if title else None
        what = f"certificate {named.number}" if named else "a document signed by this laboratory"
        return VerifyResult(
            "altered", f"This file is {what}, changed after it was signed: it is not the issued "
                       f"document. {check.reason}", digest, named, check.signer, check.signed_at)
    return VerifyResult("not_issued", "This file is not a certificate issued by this laboratory "
                                      f"({check.reason})", digest, None, check.signer,
                        check.signed_at)


# --- case packet ----------------------------------------------------------------------------


def _zip_entry(archive: zipfile.ZipFile, path: str, data: bytes, when: datetime) -> None:
    info = zipfile.ZipInfo(path, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def case_packet(user: User, case: Case) -> bytes:
    """One zip for court: certificates, custody log, audit extract, raw files, manifests.

    Raw files and the audit extract are left out (and named under `withheld_for_role`) for a
    role the permission matrix denies them, i.e. investigators.

    Every certificate version is included; MANIFEST.sha256 (sha256sum format) and manifest.json
    list the SHA-256 of every file.
    """
    require(user, "packet.download")
    if not can(user, "case.view"):
        raise NotFound(f"No case {case.case_number}.")
    now = utcnow()
    files: list[tuple[str, bytes, str]] = []
    store = file_store()
    certificates = list(db.session.scalars(select(Certificate).where(
        Certificate.case_id == case.id).order_by(Certificate.id)))
    listed = [{"number": c.number, "status": c.status, "issued_at": c.issued_at,
               "sha256": c.current_sha256, "amends": c.amends.number if c.amends else None,
               "superseded_by": c.superseded_by.number if c.superseded_by else None}
              for c in certificates]
    for certificate in certificates:
        files.append((f"certificates/{certificate.filename}",
                      store.get(certificate.current_sha256),
                      f"certificate ({certificate.status})"))
    # The packet follows the permission matrix: raw instrument files and the internal audit
    # extract only for roles that may see them elsewhere (staff, not investigators).
    withheld = []
    if can(user, "measurement.view"):
        measurements = db.session.scalars(select(Measurement).where(
            Measurement.sample_id.in_([s.id for s in case.samples])).order_by(Measurement.id))
        for measurement in measurements:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", measurement.original_filename)[:120] or "raw"
            files.append((f"raw/{measurement.sample.lab_number}/{measurement.id}-{name}",
                          raw_bytes(measurement), "raw instrument file"))
    else:
        withheld.append("raw instrument files")
    case_id, case_number, user_name = case.id, case.case_number, user.display_name
    files += [("custody/custody-log.csv", custody_log_csv(case), "custody log"),
              ("custody/custody-log.pdf", custody_log_pdf(case), "custody log")]
    if can(user, "audit.view"):
        # Last: the audit extract verifies the whole chain, which detaches the session's objects.
        files += [("audit/audit-extract.csv", audit_extract_csv(case_id, case_number),
                   "audit extract"),
                  ("audit/audit-extract.pdf", audit_extract_pdf(case_id, case_number),
                   "audit extract")]
    else:
        withheld.append("audit extract")
    manifest = {
        "case_number": case_number, "generated_at": now, "generated_by": user_name,
        "laboratory": _settings().lab_name, "certificates": listed,
        "withheld_for_role": withheld,
        "files": [{"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                   "size": len(data), "kind": kind} for path, data, kind in files],
    }
    manifest_json = (json.dumps(json.loads(canonical_json(manifest)), indent=2,
                                ensure_ascii=False) + "\n").encode()
    files.append(("manifest.json", manifest_json, "manifest"))
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data, _ in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data, _kind in files:
            _zip_entry(archive, path, data, now)
        _zip_entry(archive, "MANIFEST.sha256", sums.encode(), now)
    record(user, "packet_downloaded", "case", case_number,
           new={"files": len(files) + 1, "certificates": [c["number"] for c in listed]},
           case_id=case_id)
    return buffer.getvalue()
