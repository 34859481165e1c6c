"""The application's write-once file stores (backends in lims/storage.py) and raw downloads."""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Response, current_app

from lims.errors import Invalid
from lims.storage import FileStore, open_store

# C0 controls, DEL and C1 controls: never part of a real file name, and unsafe in headers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def file_store() -> FileStore:
    """The application's file store (LIMS_STORE: the data folder or an S3 bucket)."""
    return open_store(current_app.config["LIMS"], "files")


def staging_area(user_id: int, sample_id: int) -> FileStore:
    """One user's uploads for one sample waiting for accept or reject; never evidence."""
    return open_store(current_app.config["LIMS"], "staging", f"{user_id}/{sample_id}")


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
    return Response(data, mimetype="application/octet-stream", headers={
        "Content-Disposition": content_disposition(filename),
        "Content-Security-Policy": "sandbox",
        "X-Content-SHA256": digest,
    })
