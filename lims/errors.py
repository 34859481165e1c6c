"""Domain errors carry their HTTP status; one place maps them to JSON or HTML."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
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
        if error.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            message = f"The upload is larger than the limit of {limit} MiB."
        return error_response(error.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal error; it has been logged.")
