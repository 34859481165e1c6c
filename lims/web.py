"""HTTP hardening shared by every route: bounded ids, request ids and security headers."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask.globals import request_ctx
from werkzeug.routing import IntegerConverter

from lims.db import MAX_ID
from lims.errors import BadRequest, DomainError, error_response
from lims.files import check_filename

CLIENT_REQUEST_ID_LENGTH = 64
_UNSAFE_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:@/+=-]")
PERMISSIONS_POLICY = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                      "interest-cohort=()")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only ids a database row can have (so 2^31 or 2^63 is a 404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else max, signed=signed)


def id_arg(name: str) -> int | None:
    """A keyset or id query parameter: None when absent, 400 naming it when not a row id."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > MAX_ID:
        raise BadRequest(f"The query parameter {name!r} must be a whole number from 0 to "
                         f"{MAX_ID}.", name)
    return int(text)


def client_request_id() -> str | None:
    """The caller's X-Request-ID, sanitised and cut to a fixed length (never our own id)."""
    given = request.headers.get("X-Request-ID", "")
    return _UNSAFE_REQUEST_ID.sub("_", given)[:CLIENT_REQUEST_ID_LENGTH] or None


def install_hardening(app: Flask) -> None:
    """Register the bounded int converter (before any route) and the per-request hooks."""
    app.url_map.converters["int"] = BoundedIntConverter
    secure = app.config["SESSION_COOKIE_SECURE"]
    public_scheme = urlsplit(app.config["LIMS"].public_url).scheme

    @app.before_request
    def _request_id():
        g.request_id = uuid.uuid4().hex
        g.client_request_id = client_request_id()
        if public_scheme and request_ctx.url_adapter is not None:
            # With LIMS_PUBLIC_URL, absolute links carry its scheme (and SERVER_NAME its host).
            request_ctx.url_adapter.url_scheme = public_scheme

    @app.before_request
    def _refuse_unsafe_file_names():
        for name, upload in request.files.items(multi=True):
            try:
                check_filename(upload.filename or "", name)
            except DomainError as error:
                return error_response(error.status, error.message, error.field)
        return None

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if secure:
            headers.setdefault("Strict-Transport-Security",
                               "max-age=31536000; includeSubDomains")
        headers["X-Request-ID"] = g.get("request_id", "")
        if g.get("user") is not None:
            headers.setdefault("Cache-Control", "no-store")
        return response
