"""The laboratory's signing keys, PAdES certification signatures and their verification."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.validation import (
    SignatureCoverageLevel,
    add_validation_info,
    read_certification_data,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError

from lims.config import Settings
from lims.errors import Conflict, DomainError

# EC P-256 rather than RSA 3072 (same strength; NSS/pdfsig and pyHanko accept both): pyHanko
# parses the private key again for every signature, which costs ~0.1 s for RSA 3072.
CURVE = ec.SECP256R1()
CA_YEARS = 10
SIGNER_YEARS = 3
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # RFC 9336 id-kp-documentSigning


class SigningUnavailable(DomainError):
    """Signing is impossible with the current configuration (key file, password, TSA)."""

    status = 503


@dataclass(frozen=True)
class KeyInfo:
    """What `init_keys` wrote: files, names and the signing certificate's fingerprint."""

    p12_path: Path
    ca_path: Path
    signer_subject: str
    ca_subject: str
    sha256_fingerprint: str
    not_after: datetime


@dataclass(frozen=True)
class Verification:
    """The verdict on a signed PDF, with the facts a verification page shows."""

    status: str  # "valid", "altered", "untrusted", "unsigned" or "invalid"
    reason: str
    sha256: str
    intact: bool = False  # the signed byte range hashes to the signed digest
    valid: bool = False  # the signature verifies and chains to a trusted root
    certified: bool = False
    docmdp_permission: str | None = None  # e.g. "NO_CHANGES"
    docmdp_ok: bool = False
    coverage: str | None = None  # "ENTIRE_FILE", "ENTIRE_REVISION", ...
    modification_level: str | None = None  # "NONE", "LTA_UPDATES", "FORM_FILLING", ...
    timestamped: bool = False
    signer: str | None = None
    signed_at: datetime | None = None
    archive_timestamps: tuple[datetime, ...] = ()  # B-LTA document time-stamps, oldest first


def ca_file(settings: Settings) -> Path:
    """The CA certificate PEM written beside the key file."""
    key_file = settings.signing_key_file
    return key_file.with_name(key_file.stem + "-ca.pem")


def crl_file(settings: Settings) -> Path:
    """The CA's certificate revocation list (empty: nothing revoked) beside the CA."""
    key_file = settings.signing_key_file
    return key_file.with_name(key_file.stem + "-ca.crl")


def trusted_pem(settings: Settings) -> bytes | None:
    """The roots verifiers trust: the laboratory's CA and the time-stamp server's CA."""
    parts = [path.read_bytes() for path in (ca_file(settings), settings.tsa_ca_file)
             if path is not None and path.is_file()]
    return b"".join(parts) or None


def _name(common_name: str, lab_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, lab_name),
    ])


def _certificate(subject, subject_key, issuer, issuer_key, years: int, extensions):
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate clock skew of verifiers
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=not cert_sign,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write data to path with mode 600, replacing the file only once it is complete."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def init_keys(settings: Settings, *, lab_name: str, force: bool = False) -> KeyInfo:
    """Create the demo root CA and the laboratory's signing key, certificate and PKCS#12."""
    p12_path = settings.signing_key_file
    if p12_path.exists() and not force:
        raise Conflict(
            f"A laboratory signing key already exists at {p12_path} (LIMS_SIGNING_P12). It is "
            "needed to prove who signed the certificates already issued: back it up and export "
            "its CA before replacing it with --force.", "LIMS_SIGNING_P12")
    ca_key = ec.generate_private_key(CURVE)
    ca_name = _name(f"{lab_name} Demo Root CA", lab_name)
    ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, CA_YEARS, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_key_usage(cert_sign=True), True),
    ])
    signer_key = ec.generate_private_key(CURVE)
    signer_name = _name(lab_name, lab_name)
    signer_cert = _certificate(signer_name, signer_key, ca_name, ca_key, SIGNER_YEARS, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(cert_sign=False), True),
        # NSS (pdfsig) checks signers for the e-mail protection usage; RFC 9336 adds the
        # purpose-made document-signing one.
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), False),
    ])
    # The CA key is not kept: it exists only to vouch for this one signing certificate. It
    # signs one empty revocation list valid as long as itself, embedded in B-LT signatures as
    # the proof that the signing certificate was not revoked.
    now = datetime.now(UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name)
           .last_update(now - timedelta(minutes=5))
           .next_update(now + timedelta(days=365 * CA_YEARS))
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               ca_key.public_key()), critical=False)
           .add_extension(x509.CRLNumber(1), critical=False)
           .sign(ca_key, hashes.SHA256()))
    p12 = pkcs12.serialize_key_and_certificates(
        lab_name.encode(), signer_key, signer_cert, [ca_cert],
        serialization.BestAvailableEncryption(settings.signing_p12_password.encode()),
    )
    _write_private(p12_path, p12)
    ca_path = ca_file(settings)
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    crl_file(settings).write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return KeyInfo(
        p12_path=p12_path, ca_path=ca_path,
        signer_subject=signer_cert.subject.rfc4514_string(),
        ca_subject=ca_cert.subject.rfc4514_string(),
        sha256_fingerprint=signer_cert.fingerprint(hashes.SHA256()).hex(),
        not_after=signer_cert.not_valid_after_utc,
    )


def _key_file(settings: Settings) -> Path:
    path = settings.signing_key_file
    if not path.is_file():
        raise SigningUnavailable(
            f"No laboratory signing key at {path}: set LIMS_SIGNING_P12 or run `lims keys init`.",
            "LIMS_SIGNING_P12")
    return path


def _unreadable(path: Path) -> SigningUnavailable:
    return SigningUnavailable(
        f"Cannot open the signing key {path}: wrong LIMS_SIGNING_P12_PASSWORD or not a PKCS#12 "
        "file.", "LIMS_SIGNING_P12_PASSWORD")


@functools.lru_cache(maxsize=4)
def _load_signer(path: Path, mtime_ns: int, password: str) -> signers.SimpleSigner:
    """The signer in one PKCS#12 file version (mtime_ns is part of the cache key)."""
    try:
        return signers.SimpleSigner.load_pkcs12_data(path.read_bytes(), (), password.encode())
    except ValueError as error:
        raise _unreadable(path) from error


def _signer(settings: Settings) -> signers.SimpleSigner:
    path = _key_file(settings)
    return _load_signer(path, path.stat().st_mtime_ns, settings.signing_p12_password)


def export_ca(settings: Settings, path: Path) -> None:
    """Write the CA certificate(s) of the laboratory's signing key as PEM to path."""
    key_file = _key_file(settings)
    try:
        _, _, chain = pkcs12.load_key_and_certificates(
            key_file.read_bytes(), settings.signing_p12_password.encode())
    except ValueError as error:
        raise _unreadable(key_file) from error
    Path(path).write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))


def validation_context(settings: Settings) -> ValidationContext:
    """Trust the lab's CA and the TSA's CA, with the lab's CRL; never fetch from the network."""
    crl = crl_file(settings)
    return ValidationContext(trust_roots=_trust_roots(trusted_pem(settings)),
                             crls=[crl.read_bytes()] if crl.is_file() else [],
                             allow_fetching=False, revocation_mode="soft-fail")


def _timestamper(settings: Settings) -> timestamps.HTTPTimeStamper:
    return timestamps.HTTPTimeStamper(settings.tsa_url)


def _tsa_unavailable(settings: Settings, error: Exception) -> SigningUnavailable:
    if isinstance(error, PathError | ValidationError):
        return SigningUnavailable(
            f"The validation data cannot be embedded: a certificate does not chain to a trusted "
            f"root ({error}). Give the time-stamp server's CA in LIMS_TSA_CA.", "LIMS_TSA_CA")
    return SigningUnavailable(
        f"The time-stamp server {settings.tsa_url} (LIMS_TSA_URL) did not answer with a "
        f"time-stamp: {error}", "LIMS_TSA_URL")


_TSA_ERRORS = (TimestampRequestError, PathError, ValidationError)


def sign_pdf(pdf: bytes, settings: Settings, *, reason: str, location: str,
             field_name: str = "LabSignature") -> bytes:
    """Certify pdf with the lab's key (DocMDP no changes): PAdES B-LT with a TSA, else B-B.

    With LIMS_TSA_URL the signature carries a time-stamp and the validation data (certificates
    and the CA's revocation list) is embedded, so it can be validated without the laboratory.
    """
    signer = _signer(settings)
    timestamper = _timestamper(settings) if settings.tsa_url else None
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, location=location,
        certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        embed_validation_info=timestamper is not None,
        validation_context=validation_context(settings) if timestamper else None,
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    try:
        signed = signers.PdfSigner(meta, signer, timestamper=timestamper).sign_pdf(writer)
    except _TSA_ERRORS as error:
        raise _tsa_unavailable(settings, error) from error
    return signed.getvalue()


def archive_pdf(pdf: bytes, settings: Settings) -> bytes:
    """Add PAdES B-LTA validation data and a document time-stamp as a new incremental revision."""
    if not settings.tsa_url:
        raise SigningUnavailable("Archiving needs a time-stamp server: set LIMS_TSA_URL.",
                                 "LIMS_TSA_URL")
    context = validation_context(settings)
    stamper = signers.PdfTimeStamper(_timestamper(settings))
    try:
        reader = PdfFileReader(BytesIO(pdf))
        if any(e.sig_object.get("/Type") == "/DocTimeStamp" for e in reader.embedded_signatures):
            # A renewal: validate the last archival time-stamp, add its data, stamp again.
            stamped = stamper.update_archival_timestamp_chain(reader, context, in_place=False)
        else:
            if "/DSS" not in reader.root:  # a B-B signature: its validation data first
                pdf = add_validation_info(reader.embedded_signatures[0], context,
                                          in_place=False).getvalue()
            stamped = stamper.timestamp_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), "sha256",
                                            validation_context=context)
    except _TSA_ERRORS as error:
        raise _tsa_unavailable(settings, error) from error
    return stamped.getvalue()


def _trust_roots(ca_pem: bytes | None) -> list[asn1_x509.Certificate]:
    if not ca_pem:
        return []
    return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(ca_pem, multiple=True)]


def _archive_timestamps(reader: PdfFileReader, context: ValidationContext):
    """The times of the document time-stamps, when they and validation data are all that follows.

    None when anything after the signed revision is not a B-LT/B-LTA update. pyHanko counts a
    new empty signature field as an "LTA update" that NO_CHANGES allows, so every signature field
    must be filled, and every signature after the first must be a trusted document time-stamp.
    """
    later = reader.embedded_signatures[1:]
    if len(reader.root["/AcroForm"]["/Fields"]) != len(reader.embedded_signatures):
        return None
    times = []
    for embedded in later:
        if embedded.sig_object.get("/Type") != "/DocTimeStamp":
            return None
        status = validate_pdf_timestamp(embedded, validation_context=context)
        if not (status.intact and status.valid and status.trusted):
            return None
        if status.modification_level not in (ModificationLevel.NONE,
                                              ModificationLevel.LTA_UPDATES):
            return None
        times.append(status.timestamp.astimezone(UTC))
    return tuple(times)


def verify_pdf(pdf: bytes, ca_pem: bytes | None = None) -> Verification:
    """Validate the first signature of pdf, trusting only the certificates in ca_pem.

    The signed revision must be the whole file, or be followed only by B-LTA updates
    (validation data and trusted document time-stamps).
    """
    digest = hashlib.sha256(pdf).hexdigest()
    context = ValidationContext(trust_roots=_trust_roots(ca_pem), allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        reader = PdfFileReader(BytesIO(pdf))
        if not reader.embedded_signatures:
            return Verification("unsigned", "The PDF carries no signature.", digest)
        certification = read_certification_data(reader)
        result = validate_pdf_signature(reader.embedded_signatures[0], context)
        archived = None
        if (pdf.rstrip().endswith(b"%%EOF")  # nothing appended after the last revision
                and result.coverage == SignatureCoverageLevel.ENTIRE_REVISION
                and result.modification_level == ModificationLevel.LTA_UPDATES):
            archived = _archive_timestamps(reader, context)
    except Exception as error:  # hostile bytes make pyHanko raise many different types
        return Verification("invalid", f"Not a readable signed PDF: {error}", digest)
    level = result.modification_level
    timestamp = result.timestamp_validity
    signed_at = timestamp.timestamp if timestamp else result.signer_reported_dt
    # Appended junk counts as no modification at all in pyHanko: an issued certificate must be
    # the signed file exactly, or that file followed by archival time-stamps only.
    untouched = result.coverage == SignatureCoverageLevel.ENTIRE_FILE or archived is not None
    if not (result.intact and result.valid):
        status, reason = "altered", "The signed bytes do not match the signature."
    elif not (untouched and result.docmdp_ok):
        status = "altered"
        reason = (f"The PDF was changed after signing (modification level {_name_of(level)}, "
                  f"coverage {_name_of(result.coverage)}).")
    elif not result.bottom_line:
        status = "untrusted"
        reason = "The signer's certificate or time-stamp does not chain to a trusted root."
    else:
        status, reason = "valid", "The signature is intact, trusted and covers the whole PDF."
    permission = certification.permission if certification else None
    return Verification(
        status=status, reason=reason, sha256=digest,
        intact=result.intact,
        valid=result.valid and result.trusted,
        certified=permission is not None,
        docmdp_permission=_name_of(permission),
        docmdp_ok=bool(result.docmdp_ok),
        coverage=_name_of(result.coverage),
        modification_level=_name_of(level),
        timestamped=timestamp is not None,
        signer=result.signing_cert.subject.native.get("common_name"),
        signed_at=signed_at.astimezone(UTC) if signed_at else None,
        archive_timestamps=archived or (),
    )


def _name_of(member) -> str | None:
    return member.name if member is not None else None
