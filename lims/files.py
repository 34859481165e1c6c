"""Write-once, content-addressed file store: blobs live at files/ab/cd/<sha256>."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from lims.errors import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileStore:
    """Raw bytes kept exactly as received, addressed by their SHA-256."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, digest: str) -> Path:
        if not _SHA256.match(digest):
            raise NotFound("No such file.")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store bytes once (atomically) and return their SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
        return digest

    def get(self, digest: str) -> bytes:
        """Read a blob back and re-verify its hash."""
        path = self._path(digest)
        if not path.exists():
            raise NotFound("No such file.")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise RuntimeError(f"stored file {digest} is corrupt")
        return data
