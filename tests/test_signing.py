"""PAdES certification signatures: keys, signing, pyHanko and pdfsig verification, tampering."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields

from lims import signing
from lims.config import load_settings
from lims.errors import Conflict
from lims.pdf import render_pdf
from tests.tools import require_tool
from tests.tsa_server import running_tsa

LAB = "Customs Laboratory Sofia"
HTML = "<html><body><h1>Certificate CL-2026-000123</h1><p>Cocaine identified.</p></body></html>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Settings with a freshly made laboratory key (made once: RSA key generation is slow)."""
    data_dir = tmp_path_factory.mktemp("signing")
    settings = load_settings(data_dir=data_dir, database_url="sqlite://", secret_key="s" * 48,
                             signing_p12="keys/signing.p12", tsa_url="")
    signing.init_keys(settings, lab_name=LAB)
    return settings


@pytest.fixture(scope="module")
def ca_pem(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "ca.pem"
    signing.export_ca(lab, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def signed(lab):
    return signing.sign_pdf(render_pdf(HTML), lab, reason="Approved and released",
                            location="Sofia")


def flip_byte_in_page_content(pdf: bytes) -> bytes:
    """One changed byte inside the first stream of the original file (inside the signed range)."""
    at = pdf.index(b"stream\n") + len(b"stream\n") + 10
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]


def pdfsig(pdf: bytes, tmp_path: Path, trusted_ca: bytes | None) -> str:
    """pdfsig's report on pdf with an NSS database that trusts trusted_ca (or nothing)."""
    pdfsig_tool, certutil = require_tool("pdfsig"), require_tool("certutil")
    nss = tmp_path / "nss"
    nss.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{nss}", "--empty-password"], check=True,
                   capture_output=True)
    if trusted_ca is not None:
        (tmp_path / "ca.pem").write_bytes(trusted_ca)
        subprocess.run([certutil, "-A", "-d", f"sql:{nss}", "-n", "lab-ca", "-t", "CT,C,C",
                        "-i", str(tmp_path / "ca.pem")], check=True, capture_output=True)
    (tmp_path / "document.pdf").write_bytes(pdf)
    # pdfsig exits 0 whatever the verdict: only its output tells.
    result = subprocess.run([pdfsig_tool, "-nssdir", f"sql:{nss}", str(tmp_path / "document.pdf")],
                            capture_output=True, text=True, check=True)
    return result.stdout


def test_signed_pdf_is_a_valid_certification_by_the_lab(signed, ca_pem):
    result = signing.verify_pdf(signed, ca_pem)
    assert result.status == "valid", result.reason
    assert result.intact and result.valid and result.docmdp_ok
    assert result.certified and result.docmdp_permission == "NO_CHANGES"
    assert result.coverage == "ENTIRE_FILE" and result.modification_level == "NONE"
    assert result.signer == LAB
    assert abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=1)
    assert not result.timestamped


def test_signature_from_an_untrusted_root_is_untrusted(signed):
    result = signing.verify_pdf(signed, another_root_ca_pem())
    assert result.status == "untrusted"
    assert result.intact and not result.valid
    assert signing.verify_pdf(signed).status == "untrusted"


def another_root_ca_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return self_signed(key, "Another Root CA", ca=True).public_bytes(serialization.Encoding.PEM)


def self_signed(key, common_name: str, *, ca: bool = False, eku=None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return builder.sign(key, hashes.SHA256())


def test_pdfsig_trusts_the_signature_only_with_the_lab_ca(signed, ca_pem, tmp_path):
    trusted = pdfsig(signed, tmp_path / "trusted", ca_pem)
    assert "Signature is Valid." in trusted
    assert "Certificate is Trusted." in trusted
    untrusted = pdfsig(signed, tmp_path / "untrusted", None)
    assert "Signature is Valid." in untrusted
    assert "Certificate is Trusted." not in untrusted


def test_one_changed_byte_is_detected_by_pyhanko_and_pdfsig(signed, ca_pem, tmp_path):
    tampered = flip_byte_in_page_content(signed)
    result = signing.verify_pdf(tampered, ca_pem)
    assert result.status == "altered"
    assert not result.intact
    report = pdfsig(tampered, tmp_path, ca_pem)
    assert "Digest Mismatch." in report
    assert "Signature is Valid." not in report


def add_annotation(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
        generic.NameObject("/Rect"): generic.ArrayObject(
            generic.FloatObject(value) for value in (50, 50, 300, 80)),
        generic.NameObject("/Contents"): generic.TextStringObject("Heroin identified."),
    }))
    page[generic.NameObject("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def add_signature_field(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec("Second", box=(50, 50, 200, 100)))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("update", [add_annotation, add_signature_field,
                                    lambda pdf: pdf + b"\n% appended\n"],
                         ids=["annotation", "signature-field", "appended-bytes"])
def test_anything_appended_after_certification_is_altered(signed, ca_pem, update):
    result = signing.verify_pdf(update(signed), ca_pem)
    assert result.status == "altered", result
    assert result.intact and result.coverage != "ENTIRE_FILE"


def test_an_added_annotation_violates_the_docmdp_permission(signed, ca_pem):
    result = signing.verify_pdf(add_annotation(signed), ca_pem)
    assert not result.docmdp_ok
    assert result.modification_level not in ("NONE", "LTA_UPDATES")


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7\n" + bytes(range(256)) * 20,
                                  b"<html><body>not a pdf</body></html>"])
def test_non_pdf_input_is_invalid_with_a_reason(data):
    result = signing.verify_pdf(data)
    assert result.status == "invalid"
    assert result.reason


def test_truncated_signed_pdf_is_not_valid(signed, ca_pem):
    assert signing.verify_pdf(signed[:-40], ca_pem).status == "invalid"
    # Cut back to the revision before the signature: a readable PDF that is no longer signed.
    original = signed[: signed.index(b"%%EOF") + len(b"%%EOF\n")]
    assert signing.verify_pdf(original, ca_pem).status == "unsigned"


def test_unsigned_pdf_is_reported_unsigned(ca_pem):
    assert signing.verify_pdf(render_pdf(HTML), ca_pem).status == "unsigned"


def test_signing_without_a_key_names_the_setting(settings):
    with pytest.raises(signing.SigningUnavailable, match="LIMS_SIGNING_P12") as caught:
        signing.sign_pdf(render_pdf(HTML), settings, reason="Approved", location="Sofia")
    assert caught.value.status == 503
    assert caught.value.field == "LIMS_SIGNING_P12"


def test_wrong_password_names_the_password_setting(lab):
    wrong = dataclasses.replace(lab, signing_p12_password="not the password")
    with pytest.raises(signing.SigningUnavailable, match="LIMS_SIGNING_P12_PASSWORD"):
        signing.sign_pdf(render_pdf(HTML), wrong, reason="Approved", location="Sofia")


def test_init_refuses_to_replace_an_existing_key_unless_forced(settings):
    first = signing.init_keys(settings, lab_name=LAB)
    assert first.p12_path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(Conflict, match="already exists"):
        signing.init_keys(settings, lab_name=LAB)
    old_ca = first.ca_path.read_bytes()
    signing.sign_pdf(render_pdf(HTML), settings, reason="Approved", location="Sofia")
    second = signing.init_keys(settings, lab_name=LAB, force=True)
    assert second.sha256_fingerprint != first.sha256_fingerprint
    # The signer cached for the old file is not used for the new one.
    pdf = signing.sign_pdf(render_pdf(HTML), settings, reason="Approved", location="Sofia")
    assert signing.verify_pdf(pdf, second.ca_path.read_bytes()).status == "valid"
    assert signing.verify_pdf(pdf, old_ca).status == "untrusted"


def test_exported_ca_is_a_ca_certificate(ca_pem, lab):
    (ca,) = x509.load_pem_x509_certificates(ca_pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"{LAB} Demo Root CA")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > timedelta(days=3650)
    assert signing.ca_file(lab).read_bytes() == ca_pem


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """A real RFC 3161 server (openssl ts, its own process): yields (url, CA PEM path)."""
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def with_tsa(lab, tsa):
    """The lab's settings with the time-stamp server and its CA configured."""
    url, tsa_ca = tsa
    return dataclasses.replace(lab, tsa_url=url, tsa_ca=tsa_ca)


def test_a_configured_tsa_gives_a_timestamped_b_lt_signature(ca_pem, tsa, with_tsa):
    pdf = signing.sign_pdf(render_pdf(HTML), with_tsa, reason="Approved", location="Sofia")
    result = signing.verify_pdf(pdf, ca_pem + tsa[1].read_bytes())
    assert result.status == "valid", result.reason
    assert result.timestamped
    assert abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=1)
    # B-LT: the validation data (both chains and the CA's revocation list) is in the file.
    dss = PdfFileReader(BytesIO(pdf)).root["/DSS"]
    assert len(dss["/Certs"]) >= 3 and len(dss["/CRLs"]) == 1
    # The same signature with the TSA's root not trusted is not valid.
    assert signing.verify_pdf(pdf, ca_pem).status == "untrusted"


def test_a_tsa_without_its_ca_names_the_setting(lab, tsa):
    unknown = dataclasses.replace(lab, tsa_url=tsa[0])
    with pytest.raises(signing.SigningUnavailable, match="LIMS_TSA_CA"):
        signing.sign_pdf(render_pdf(HTML), unknown, reason="Approved", location="Sofia")


@pytest.fixture(scope="module")
def archived(with_tsa):
    """A B-LT certificate with a B-LTA document time-stamp added."""
    pdf = signing.sign_pdf(render_pdf(HTML), with_tsa, reason="Approved", location="Sofia")
    return pdf, signing.archive_pdf(pdf, with_tsa)


def test_archiving_adds_a_document_timestamp_revision(archived, with_tsa, ca_pem, tsa):
    pdf, later = archived
    assert later.startswith(pdf)  # a new incremental revision: the signed bytes are unchanged
    result = signing.verify_pdf(later, signing.trusted_pem(with_tsa))
    assert result.status == "valid", result.reason
    assert len(result.archive_timestamps) == 1
    assert abs(datetime.now(UTC) - result.archive_timestamps[0]) < timedelta(minutes=1)
    assert result.modification_level == "LTA_UPDATES"
    # A second archival time-stamp (renewal) is accepted as well.
    again = signing.archive_pdf(later, with_tsa)
    assert len(signing.verify_pdf(again, signing.trusted_pem(with_tsa)).archive_timestamps) == 2
    # Without the TSA's root the archival time-stamp is not trusted: the file is not accepted.
    assert signing.verify_pdf(later, ca_pem).status == "altered"


def test_pdfsig_checks_the_archived_signature_and_lists_the_timestamp(archived, ca_pem, tsa,
                                                                      tmp_path):
    report = pdfsig(archived[1], tmp_path, ca_pem + tsa[1].read_bytes())
    first, second = report.split("Signature #2:")
    assert "Signature is Valid." in first and "Certificate is Trusted." in first
    # poppler lists RFC 3161 document time-stamps but cannot validate them (pyHanko does).
    assert "Test TSA" in second


def test_anything_but_a_timestamp_after_the_signature_is_refused(archived, with_tsa):
    pdf, later = archived
    trusted = signing.trusted_pem(with_tsa)
    # An empty signature field added after signing: pyHanko alone calls it an "LTA update".
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec("Extra", box=(10, 10, 60, 60)))
    out = BytesIO()
    writer.write(out)
    assert signing.verify_pdf(out.getvalue(), trusted).status == "altered"
    # Junk appended after the archival revision.
    assert signing.verify_pdf(later + b"\n% junk\n", trusted).status == "altered"
    # The archived file with a byte changed in the signed part.
    assert signing.verify_pdf(flip_byte_in_page_content(later), trusted).status == "altered"


def test_an_unreachable_tsa_names_the_setting(lab):
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = dataclasses.replace(lab, tsa_url=f"http://127.0.0.1:{port}/")
    with pytest.raises(signing.SigningUnavailable, match="LIMS_TSA_URL"):
        signing.sign_pdf(render_pdf(HTML), down, reason="Approved", location="Sofia")


def test_a_lookalike_key_with_the_same_names_is_untrusted(settings, ca_pem):
    signing.init_keys(settings, lab_name=LAB)  # same subject and CA names, different keys
    forged = signing.sign_pdf(render_pdf(HTML), settings, reason="Approved", location="Sofia")
    result = signing.verify_pdf(forged, ca_pem)
    assert result.signer == LAB
    assert result.status == "untrusted"


def test_keys_init_and_export_ca_commands(cli, tmp_path):
    result = cli("keys", "init", "--lab-name", "Sofia Customs Lab")
    assert result.exit_code == 0, result.output
    assert "Sofia Customs Lab" in result.output
    again = cli("keys", "init")
    assert again.exit_code == 1 and "already exists" in again.output
    out = tmp_path / "exported.pem"
    assert cli("keys", "export-ca", str(out)).exit_code == 0
    (ca,) = x509.load_pem_x509_certificates(out.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_b_b_signature_is_archived_with_its_validation_data(signed, with_tsa):
    later = signing.archive_pdf(signed, with_tsa)
    assert later.startswith(signed)
    result = signing.verify_pdf(later, signing.trusted_pem(with_tsa))
    assert result.status == "valid", result.reason
    assert len(result.archive_timestamps) == 1
    assert "/DSS" in PdfFileReader(BytesIO(later)).root


def test_archiving_without_a_tsa_names_the_setting(signed, lab):
    with pytest.raises(signing.SigningUnavailable, match="LIMS_TSA_URL"):
        signing.archive_pdf(signed, lab)
