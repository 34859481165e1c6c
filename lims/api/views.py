"""The API's own route: the OpenAPI document (feature routes live in each feature's api.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lims.api.http import responses
from lims.api.openapi import openapi_document, register
from lims.auth.access import login_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/openapi.json")
@login_required
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@register
def _paths() -> dict:
    return {"/api/v1/openapi.json": {"get": {
        "summary": "This document (needs a token, like every endpoint)",
        "responses": responses("200", errors=(401,))}}}
