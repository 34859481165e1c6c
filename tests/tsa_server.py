"""A real RFC 3161 time-stamp authority for the tests: `openssl ts -reply` behind HTTP.

Run as a separate process: ``python tests/tsa_server.py DIR``. It makes a TSA CA and a TSA
certificate (extended key usage timeStamping, critical) in DIR, writes ``DIR/tsa-ca.pem``, and
serves POST requests of content type application/timestamp-query on 127.0.0.1, answering with
what ``openssl ts -reply`` signs. The port it listens on is written to ``DIR/port`` once it
accepts connections.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa-ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test TSA")])


def make_tsa(folder: Path) -> None:
    """Write the TSA CA, the TSA certificate and key, the serial file and the openssl config."""
    now = datetime.now(UTC)
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())

    def build(subject, key, issuer, issuer_key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=365))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       issuer_key.public_key()), critical=False))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_name = _name("Test TSA Root CA")
    ca = build(ca_name, ca_key, ca_name, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)])
    tsa = build(_name("Test TSA"), tsa_key, ca_name, ca_key, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(True, True, False, False, False, False, False, False, False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)])
    pem = serialization.Encoding.PEM
    (folder / "tsa-ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(tsa_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "serial").write_text("01\n")
    (folder / "openssl.cnf").write_text(CONFIG.format(dir=folder))


class Handler(BaseHTTPRequestHandler):
    """Answers time-stamp queries with `openssl ts -reply`."""

    folder: Path

    def do_POST(self):  # noqa: N802 (http.server's naming)
        """Sign one RFC 3161 query."""
        query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with tempfile.TemporaryDirectory() as tmp:
            request, reply = Path(tmp, "q.tsq"), Path(tmp, "r.tsr")
            request.write_bytes(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.folder / "openssl.cnf"),
                 "-queryfile", str(request), "-out", str(reply)], capture_output=True)
            body = reply.read_bytes() if done.returncode == 0 and reply.exists() else b""
        if not body:
            self.send_response(400)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Quiet: the tests read the answers, not a log."""


def main() -> None:
    """Make the TSA in the folder given and serve until killed."""
    folder = Path(sys.argv[1]).resolve()
    make_tsa(folder)
    Handler.folder = folder
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    (folder / "port.partial").write_text(str(server.server_address[1]))
    (folder / "port.partial").rename(folder / "port")
    server.serve_forever()


@contextmanager
def running_tsa(folder: Path):
    """Start the TSA as its own process; yield (URL, CA PEM path); stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, __file__, str(folder)])
    try:
        deadline = time.monotonic() + 30
        while not (folder / "port").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test TSA did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{(folder / 'port').read_text()}/", folder / "tsa-ca.pem"
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
