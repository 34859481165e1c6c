"""The one place that reads the environment: every setting of the application."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ENV_KEYS = {
    "LIMS_DATA_DIR": "Folder for the SQLite database, the file store and the generated secret key.",
    "LIMS_DATABASE_URL": "SQLAlchemy URL; default sqlite:///<LIMS_DATA_DIR>/lims.sqlite3.",
    "LIMS_SECRET_KEY": "Session signing key (>= 32 characters); generated once into the data "
    "folder when not given.",
    "LIMS_LAB_NAME": "Laboratory name printed on labels and reports.",
    "LIMS_LAB_ADDRESS": "Postal address of the laboratory printed on certificates.",
    "LIMS_LAB_NUMBER_PREFIX": "Prefix of sample lab numbers (default CL).",
    "LIMS_CASE_NUMBER_PREFIX": "Prefix of case numbers (default CASE).",
    "LIMS_CERTIFICATE_PREFIX": "Middle part of certificate numbers, <lab prefix>-<this>-YYYY-NNNNN "
    "(default CERT).",
    "LIMS_PUBLIC_URL": "Base URL printed in the certificates' QR codes (<url>/verify/<token>) "
    "and used for every absolute link (API `url` fields); default: the URL the request came in "
    "on.",
    "LIMS_TRUSTED_HOSTS": "Comma-separated host names the app answers to; any other Host "
    "header gets 400 (default: any host).",
    "LIMS_TIMEZONE": "The laboratory's time zone for display (default UTC); storage is UTC.",
    "LIMS_IDLE_TIMEOUT_MINUTES": "Idle session timeout (default 30; 15 for roles that sign).",
    "LIMS_SESSION_MAX_HOURS": "Absolute session lifetime (default 12).",
    "LIMS_MAX_UPLOAD_MB": "Largest accepted request body in MiB (default 50).",
    "LIMS_LOGIN_MAX_FAILURES": "Failed logins on one account before each further attempt waits "
    "(default 5; the wait doubles from 1 s up to 60 s, never a lock).",
    "LIMS_REQUIRE_2FA": "1 to require TOTP two-factor sign-in of admins and reviewers; default 0.",
    "LIMS_ACCOUNT_IDLE_DAYS": "Days without a login after which an account is disabled until "
    "an admin re-enables it (default 90; 0 = never).",
    "LIMS_SECURE_COOKIES": "1 to mark cookies Secure (behind HTTPS); default 0.",
    "LIMS_PROXY_HOPS": "Number of trusted reverse proxies in front of the app (default 0).",
    "LIMS_SIGNING_P12": "PKCS#12 file with the laboratory's signing key and certificate chain; "
    "a relative path is inside LIMS_DATA_DIR (default keys/signing.p12; `lims keys init`).",
    "LIMS_SIGNING_P12_PASSWORD": "Password of the PKCS#12 file; generated once next to it "
    "(<file>.password, mode 600) when not given, for demo and test use.",
    "LIMS_TSA_URL": "RFC 3161 time-stamp server: certificates are signed PAdES B-LT and "
    "`lims certificates archive` adds B-LTA time-stamps; empty (default) signs PAdES B-B.",
    "LIMS_FAILPOINTS": "Crash tests only: comma-separated failpoints at which the process "
    "kills itself with SIGKILL (measurement.saved, custody.recorded, certificate.stored).",
    "LIMS_TSA_CA": "PEM file of the time-stamp server's CA certificate(s), trusted for its "
    "time-stamps; a relative path is inside LIMS_DATA_DIR (default: none).",
    "LIMS_STORE": "Backend of the write-once file store: local (default; LIMS_DATA_DIR/files) "
    "or s3 (an S3-compatible bucket, shared by several app servers).",
    "LIMS_S3_ENDPOINT_URL": "URL of the S3-compatible server (default: AWS S3 of LIMS_S3_REGION).",
    "LIMS_S3_BUCKET": "Bucket of the file store (required with LIMS_STORE=s3).",
    "LIMS_S3_ACCESS_KEY": "Access key id (default: boto3's own credential chain).",
    "LIMS_S3_SECRET_KEY": "Secret access key (default: boto3's own credential chain).",
    "LIMS_S3_REGION": "Region of the bucket (default us-east-1).",
    "LIMS_S3_PREFIX": "Key prefix inside the bucket, e.g. lims/ (default: none).",
    "LIMS_AUDIT_KEY": "HMAC key of the audit chain (>= 32 characters); generated once into the "
    "data folder (audit/chain_key, mode 600) when not given. Never store it in the database.",
    "LIMS_AUDIT_CHECKPOINT_EVERY": "Write a signed audit checkpoint every this many entries "
    "(default 1000; `lims audit checkpoint` writes one at once).",
    "LIMS_DB_APP_ROLE": "PostgreSQL role the migrations grant least privilege to (no UPDATE, "
    "DELETE or TRUNCATE on the audit and custody tables; default lims_app).",
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _generated_secret(path: Path) -> str:
    """Return the secret kept in path (mode 600), generating it on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _secret_key(data_dir: Path) -> str:
    """Return LIMS_SECRET_KEY, or a key generated once and kept in the data folder."""
    given = os.environ.get("LIMS_SECRET_KEY", "")
    if given:
        if len(given) < 32:
            raise RuntimeError("LIMS_SECRET_KEY must be at least 32 characters long.")
        return given
    return _generated_secret(data_dir / "secret_key")


def _audit_key(data_dir: Path) -> str:
    """Return LIMS_AUDIT_KEY, or a key generated once and kept in the data folder."""
    given = os.environ.get("LIMS_AUDIT_KEY", "")
    if given:
        if len(given) < 32:
            raise RuntimeError("LIMS_AUDIT_KEY must be at least 32 characters long.")
        return given
    (data_dir / "audit").mkdir(mode=0o700, parents=True, exist_ok=True)
    return _generated_secret(data_dir / "audit" / "chain_key")


def _signing_password(p12: Path) -> str:
    """Return LIMS_SIGNING_P12_PASSWORD, or a password generated once next to the key file."""
    return os.environ.get("LIMS_SIGNING_P12_PASSWORD", "") or _generated_secret(
        p12.with_name(p12.name + ".password")
    )


def _key_prefix(value: str) -> str:
    """An object key prefix: empty, or ending in exactly one slash."""
    value = value.strip("/")
    return f"{value}/" if value else ""


@dataclass(frozen=True)
class Settings:
    """Typed settings of one application instance."""

    data_dir: Path
    database_url: str
    secret_key: str
    lab_name: str = "Customs Laboratory"
    lab_address: str = ""
    lab_number_prefix: str = "CL"
    case_number_prefix: str = "CASE"
    certificate_prefix: str = "CERT"
    public_url: str = ""
    trusted_hosts: tuple[str, ...] = ()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    idle_timeout_minutes: int = 30
    signer_idle_timeout_minutes: int = 15
    session_max_hours: int = 12
    max_upload_mb: int = 50
    login_max_failures: int = 5
    require_2fa: bool = False
    account_idle_days: int = 90
    secure_cookies: bool = False
    proxy_hops: int = 0
    signing_p12: Path = Path("keys", "signing.p12")  # relative to data_dir unless absolute
    signing_p12_password: str = ""
    tsa_url: str = ""
    tsa_ca: Path | None = None  # relative to data_dir unless absolute
    failpoints: frozenset[str] = frozenset()
    store: str = "local"  # local | s3
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = field(default="", repr=False)
    s3_region: str = "us-east-1"
    s3_prefix: str = ""  # "" or ending in "/"

    def __post_init__(self):
        if self.store not in ("local", "s3"):
            raise RuntimeError(f"LIMS_STORE must be local or s3, not {self.store!r}.")
        if self.store == "s3" and not self.s3_bucket:
            raise RuntimeError("LIMS_STORE=s3 needs LIMS_S3_BUCKET.")

    @property
    def tsa_ca_file(self) -> Path | None:
        """PEM of the time-stamp server's CA (setting LIMS_TSA_CA), if configured."""
        return self.data_dir / self.tsa_ca if self.tsa_ca else None
    audit_key: str = ""
    audit_checkpoint_every: int = 1000
    db_app_role: str = "lims_app"

    @property
    def audit_journal(self) -> Path:
        """Append-only file of the audit chain heads, one line per committed transaction."""
        return self.data_dir / "audit" / "journal"

    @property
    def audit_checkpoints(self) -> Path:
        """Append-only file of signed audit checkpoints."""
        return self.data_dir / "audit" / "checkpoints"

    @property
    def audit_checkpoint_key(self) -> Path:
        """Ed25519 key (PEM, mode 600) that signs the audit checkpoints."""
        return self.data_dir / "audit" / "checkpoint_key.pem"

    @property
    def signing_key_file(self) -> Path:
        """PKCS#12 file of the laboratory's signing key (setting LIMS_SIGNING_P12)."""
        return self.data_dir / self.signing_p12

    @property
    def file_store(self) -> Path:
        """Folder of the content-addressed file store."""
        return self.data_dir / "files"

    def flask_config(self) -> dict:
        """Return the Flask and extension keys derived from these settings."""
        public = urlsplit(self.public_url)
        return {
            # Absolute links are built from the configured URL, never from the Host header.
            "SERVER_NAME": public.netloc or None,
            "PREFERRED_URL_SCHEME": public.scheme or "http",
            "TRUSTED_HOSTS": list(self.trusted_hosts) or None,
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "MAX_CONTENT_LENGTH": self.max_upload_mb * 1024 * 1024,
            "MAX_FORM_MEMORY_SIZE": 2 * 1024 * 1024,
            "MAX_FORM_PARTS": 1000,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "WTF_CSRF_TIME_LIMIT": None,
            "LIMS": self,
        }


def load_settings(**overrides) -> Settings:
    """Read the settings from the environment; keyword overrides win (used by tests)."""
    data_dir = Path(overrides.pop("data_dir", None) or _env("LIMS_DATA_DIR", "data")).resolve()
    database_url = overrides.pop("database_url", None) or _env(
        "LIMS_DATABASE_URL", f"sqlite:///{data_dir / 'lims.sqlite3'}"
    )
    signing_p12 = Path(overrides.pop("signing_p12", None) or _env("LIMS_SIGNING_P12",
                                                                  "keys/signing.p12"))
    values = {
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": overrides.pop("secret_key", None) or _secret_key(data_dir),
        "lab_name": _env("LIMS_LAB_NAME", "Customs Laboratory"),
        "lab_address": _env("LIMS_LAB_ADDRESS", ""),
        "lab_number_prefix": _env("LIMS_LAB_NUMBER_PREFIX", "CL"),
        "case_number_prefix": _env("LIMS_CASE_NUMBER_PREFIX", "CASE"),
        "certificate_prefix": _env("LIMS_CERTIFICATE_PREFIX", "CERT"),
        "public_url": _env("LIMS_PUBLIC_URL", "").rstrip("/"),
        "trusted_hosts": tuple(h.strip() for h in _env("LIMS_TRUSTED_HOSTS", "").split(",")
                               if h.strip()),
        "timezone": ZoneInfo(_env("LIMS_TIMEZONE", "UTC")),
        "idle_timeout_minutes": int(_env("LIMS_IDLE_TIMEOUT_MINUTES", "30")),
        "session_max_hours": int(_env("LIMS_SESSION_MAX_HOURS", "12")),
        "max_upload_mb": int(_env("LIMS_MAX_UPLOAD_MB", "50")),
        "login_max_failures": int(_env("LIMS_LOGIN_MAX_FAILURES", "5")),
        "require_2fa": _env("LIMS_REQUIRE_2FA", "0") == "1",
        "account_idle_days": int(_env("LIMS_ACCOUNT_IDLE_DAYS", "90")),
        "secure_cookies": _env("LIMS_SECURE_COOKIES", "0") == "1",
        "proxy_hops": int(_env("LIMS_PROXY_HOPS", "0")),
        "signing_p12": signing_p12,
        "signing_p12_password": overrides.pop("signing_p12_password", None)
        or _signing_password(data_dir / signing_p12),
        "tsa_url": _env("LIMS_TSA_URL", ""),
        "failpoints": frozenset(filter(None, (p.strip() for p in _env(
            "LIMS_FAILPOINTS", "").split(",")))),
        "tsa_ca": Path(_env("LIMS_TSA_CA", "")) if _env("LIMS_TSA_CA", "") else None,
        "store": _env("LIMS_STORE", "local"),
        "s3_endpoint_url": _env("LIMS_S3_ENDPOINT_URL", ""),
        "s3_bucket": _env("LIMS_S3_BUCKET", ""),
        "s3_access_key": _env("LIMS_S3_ACCESS_KEY", ""),
        "s3_secret_key": _env("LIMS_S3_SECRET_KEY", ""),
        "s3_region": _env("LIMS_S3_REGION", "us-east-1"),
        "s3_prefix": _key_prefix(_env("LIMS_S3_PREFIX", "")),
        "audit_key": overrides.pop("audit_key", None) or _audit_key(data_dir),
        "audit_checkpoint_every": int(_env("LIMS_AUDIT_CHECKPOINT_EVERY", "1000")),
        "db_app_role": _env("LIMS_DB_APP_ROLE", "lims_app"),
    }
    values.update(overrides)
    return Settings(**values)
