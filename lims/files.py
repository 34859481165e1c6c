"""The application's write-once file stores (backends in lims/storage.py) and raw downloads."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app

from lims.storage import FileStore, open_store


def file_store() -> FileStore:
    """The application's file store (LIMS_STORE: the data folder or an S3 bucket)."""
    return open_store(current_app.config["LIMS"], "files")


def staging_area() -> FileStore:
    """Uploads waiting for the user's accept or reject; never evidence."""
    return open_store(current_app.config["LIMS"], "staging")


def raw_response(data: bytes, filename: str, digest: str):
    """A download of stored bytes: attachment (RFC 6266), never rendered, with its hash."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(data, mimetype="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": "sandbox",
        "X-Content-SHA256": digest,
    })
