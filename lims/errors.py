"""Domain errors carry their HTTP status; one place maps them to JSON or HTML."""

from __future__ import annotations

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from lims.db import db


class DomainError(Exception):
    """A refused operation, with the HTTP status and the field it concerns."""

    status = 400
    keep_writes = False  # True when what was written before raising must be kept

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> dict:
        """Extra JSON keys of the error answer (e.g. the line of a bad file)."""
        return {}


class BadRequest(DomainError):
    """The request itself is malformed (e.g. a query parameter that is not a number)."""

    status = 400


class NotFound(DomainError):
    """The record does not exist or is not visible to the caller."""

    status = 404


class Forbidden(DomainError):
    """The caller's role does not allow this operation."""

    status = 403


class Conflict(DomainError):
    """The operation contradicts the current state (custody order, duplicates, transitions)."""

    status = 409


class Invalid(DomainError):
    """The input is well-formed but not acceptable."""

    status = 422


class Unauthorized(DomainError):
    """No valid credentials were presented."""

    status = 401


class TooManyAttempts(DomainError):
    """The account is throttled after repeated failures."""

    status = 429


def wants_json() -> bool:
    """True for API calls and clients that prefer JSON."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str, field: str | None = None,
                   details: dict | None = None):
    """Answer an error as JSON `{"error", "field", ...details}` or as an HTML page."""
    if wants_json():
        body = {"error": message, **(details or {})}
        if field:
            body["field"] = field
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def _too_large_message(config) -> str:
    """Say which request limit a 413 hit: the body size, or the form's parts and fields."""
    mib = 1024 * 1024
    size_limit = config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None and length <= size_limit:
        return (f"The form has more than {config['MAX_FORM_PARTS']} parts, or a field larger "
                f"than {config['MAX_FORM_MEMORY_SIZE'] // mib} MiB.")
    return f"The upload is larger than the limit of {size_limit // mib} MiB."


def register_error_handlers(app: Flask) -> None:
    """Map domain errors, HTTP errors and unexpected failures to clean answers."""

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        if error.keep_writes:
            db.session.commit()
        else:
            db.session.rollback()
        return error_response(error.status, error.message, error.field, error.details())

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        db.session.rollback()
        message = error.description or error.name
        if request_ctx.url_adapter is None:  # an untrusted Host: no page can be built for it
            return Response(message, error.code, mimetype="text/plain")
        if error.code == 413:
            message = _too_large_message(app.config)
        response = make_response(error_response(error.code or 500, message))
        if error.code == 405:  # RFC 9110: a 405 names the methods the resource allows
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods or ()))
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal error; it has been logged.")
