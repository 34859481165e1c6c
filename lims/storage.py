"""Write-once, content-addressed blob stores: a local folder or an S3-compatible bucket."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from contextlib import suppress
from functools import lru_cache
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lims.config import Settings
from lims.errors import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
AREAS = ("files", "staging")  # evidence, and uploads waiting for the user's accept or reject


class CorruptFile(RuntimeError):
    """A stored blob whose bytes no longer hash to its name."""


class AlreadyStored(Exception):
    """The backend refused to write a key that exists (write-once)."""


def _checked(digest: str) -> str:
    if not _SHA256.match(digest):
        raise NotFound("No such file.")
    return digest


def _fanout(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class FileStore(ABC):
    """Raw bytes kept exactly as received, addressed by their SHA-256, never overwritten."""

    def __init__(self, *, staging: bool = False):
        self.staging = staging

    def put(self, data: bytes) -> str:
        """Store bytes once and return their SHA-256 (the same bytes again: stored once)."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            with suppress(AlreadyStored):  # a concurrent writer stored the same bytes first
                self._create(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        """Read a blob back and re-verify its hash."""
        data = self._read(_checked(digest))
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptFile(f"stored file {digest} is corrupt")
        return data

    def exists(self, digest: str) -> bool:
        """Whether a blob of this SHA-256 is stored (its bytes are checked on read)."""
        return bool(_SHA256.match(digest)) and self._exists(digest)

    def discard(self, digest: str) -> None:
        """Remove a blob (staging only: the evidence store never deletes)."""
        if not self.staging:
            raise RuntimeError("the evidence store never deletes")
        self._delete(_checked(digest))

    @abstractmethod
    def _create(self, digest: str, data: bytes) -> None:
        """Write a new key atomically; raise AlreadyStored if it exists."""

    @abstractmethod
    def _read(self, digest: str) -> bytes:
        """The stored bytes, or NotFound."""

    @abstractmethod
    def _exists(self, digest: str) -> bool:
        """Whether the key exists."""

    @abstractmethod
    def _delete(self, digest: str) -> None:
        """Remove the key if present."""


class LocalStore(FileStore):
    """Blobs in a folder: <root>/ab/cd/<sha256>, read-only files."""

    def __init__(self, root: Path, *, staging: bool = False):
        super().__init__(staging=staging)
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / _fanout(digest)

    def _create(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{digest}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o444)
        try:
            os.link(tmp, path)  # atomic and, unlike rename, never replaces an existing file
        except FileExistsError as exists:
            raise AlreadyStored(digest) from exists
        finally:
            tmp.unlink()

    def _read(self, digest: str) -> bytes:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFound("No such file.") from None

    def _exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def _delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)


class S3Store(FileStore):
    """Blobs in an S3-compatible bucket: <prefix>ab/cd/<sha256>, written only if absent."""

    def __init__(self, client, bucket: str, prefix: str, *, staging: bool = False):
        super().__init__(staging=staging)
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _key(self, digest: str) -> str:
        return self.prefix + _fanout(digest)

    def _create(self, digest: str, data: bytes) -> None:
        try:  # the condition makes the server refuse an existing key, even in a race
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data,
                                   IfNoneMatch="*")
        except ClientError as error:
            if _status(error) in (409, 412):
                raise AlreadyStored(digest) from error
            raise

    def _read(self, digest: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except ClientError as error:
            if _status(error) == 404:
                raise NotFound("No such file.") from None
            raise

    def _exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as error:
            if _status(error) == 404:
                return False
            raise
        return True

    def _delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))


def _status(error: ClientError) -> int:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


@lru_cache(maxsize=8)
def s3_client(endpoint_url: str, region: str, access_key: str, secret_key: str):
    """One boto3 S3 client per server and identity (clients are thread-safe)."""
    return boto3.client(
        "s3", endpoint_url=endpoint_url or None, region_name=region,
        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
        config=Config(s3={"addressing_style": "path" if endpoint_url else "auto"},
                      retries={"mode": "standard", "max_attempts": 3}))


def open_store(settings: Settings, area: str, sub: str = "") -> FileStore:
    """The store of one area (files: evidence, staging) on the backend LIMS_STORE selects.

    `sub` narrows a staging area to one folder (one user's uploads for one sample).
    """
    if area not in AREAS:
        raise ValueError(f"unknown store area {area!r}")
    staging = area == "staging"
    if settings.store == "s3":
        client = s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key,
                           settings.s3_secret_key)
        prefix = f"{settings.s3_prefix}{area}/{sub + '/' if sub else ''}"
        return S3Store(client, settings.s3_bucket, prefix, staging=staging)
    return LocalStore(settings.data_dir / area / sub if sub else settings.data_dir / area,
                      staging=staging)
