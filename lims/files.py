"""Write-once, content-addressed file store: blobs live at files/ab/cd/<sha256>."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app

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

    def discard(self, digest: str) -> None:
        """Remove a blob (staging only: the evidence store never deletes)."""
        path = self._path(digest)
        path.unlink(missing_ok=True)

    def get(self, digest: str) -> bytes:
        """Read a blob back and re-verify its hash."""
        path = self._path(digest)
        if not path.exists():
            raise NotFound("No such file.")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise RuntimeError(f"stored file {digest} is corrupt")
        return data


def file_store() -> FileStore:
    """The application's file store (under LIMS_DATA_DIR)."""
    return FileStore(current_app.config["LIMS"].file_store)


def staging_area() -> FileStore:
    """Uploads waiting for the user's accept or reject; never evidence."""
    return FileStore(current_app.config["LIMS"].data_dir / "staging")


def raw_response(data: bytes, filename: str, digest: str):
    """A download of stored bytes: attachment (RFC 6266), never rendered, with its hash."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(data, mimetype="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": "sandbox",
        "X-Content-SHA256": digest,
    })
