"""The OpenAPI document, assembled from the operations each feature's api.py registers."""

from __future__ import annotations

from collections.abc import Callable

ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}
PathItems = Callable[[], dict]
_REGISTRY: list[PathItems] = []


def register(path_items: PathItems) -> PathItems:
    """Add a function answering {path: {method: operation}} to the document (a decorator)."""
    _REGISTRY.append(path_items)
    return path_items


def openapi_document() -> dict:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, dict] = {}
    for path_items in _REGISTRY:
        for path, operations in path_items().items():
            paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customs LIMS API", "version": "1"},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Token from `lims token create`."}},
            "schemas": {"Error": ERROR},
        },
        "paths": dict(sorted(paths.items())),
    }
