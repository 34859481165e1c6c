"""PAdES certification signatures: keys, signing, pyHanko and pdfsig verification, tampering."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from lims import signing
from lims.config import load_settings
from lims.errors import Conflict
from lims.pdf import render_pdf
from tests.tools import require_tool

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


@pytest.fixture
def tsa_server():
    """A loopback RFC 3161 server answering with pyHanko's DummyTimeStamper; yields (url, pem)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "Test TSA", eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", cert.public_bytes(serialization.Encoding.PEM)
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_configured_tsa_gives_a_timestamped_signature(lab, ca_pem, tsa_server):
    url, tsa_pem = tsa_server
    with_tsa = dataclasses.replace(lab, tsa_url=url)
    pdf = signing.sign_pdf(render_pdf(HTML), with_tsa, reason="Approved", location="Sofia")
    result = signing.verify_pdf(pdf, ca_pem + tsa_pem)
    assert result.status == "valid", result.reason
    assert result.timestamped
    assert abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=1)
    # The same signature with the TSA's root not trusted is not valid.
    assert signing.verify_pdf(pdf, ca_pem).status == "untrusted"


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
