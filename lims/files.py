"""Write-once, content-addressed file store: blobs live at files/ab/cd/<sha256>."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import quote

from lims.errors import Invalid, NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# C0 controls, DEL and C1 controls: never part of a real file name, and unsafe in headers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
    from flask import current_app

    return FileStore(current_app.config["LIMS"].file_store)


def staging_area(user_id: int, sample_id: int) -> FileStore:
    """One user's uploads for one sample waiting for accept or reject; never evidence."""
    from flask import current_app

    return FileStore(current_app.config["LIMS"].data_dir / "staging" / str(user_id)
                     / str(sample_id))


def check_filename(name: str, field: str = "file") -> str:
    """Refuse (422, naming the field) a file name with NUL or other control characters."""
    if _CONTROL.search(name or ""):
        raise Invalid(f"The file name in {field!r} contains a control character; rename the "
                      "file and upload it again.", field)
    return name


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """An RFC 6266 header value: an ASCII fallback name plus the exact UTF-8 `filename*`."""
    clean = _CONTROL.sub("", filename).strip() or "download"
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", clean)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def raw_response(data: bytes, filename: str, digest: str):
    """A download of stored bytes: attachment (RFC 6266), never rendered, with its hash."""
    from flask import Response

    return Response(data, mimetype="application/octet-stream", headers={
        "Content-Disposition": content_disposition(filename),
        "Content-Security-Policy": "sandbox",
        "X-Content-SHA256": digest,
    })
