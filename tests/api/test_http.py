"""The JSON body limits of the API toolkit, seen from an anonymous client."""

from __future__ import annotations

from lims.api.http import MAX_DEPTH, MAX_KEYS


def nested(depth: int) -> str:
    """A JSON array `depth` levels deep."""
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_a_400_naming_the_body_not_a_500(client):
    for depth in (MAX_DEPTH + 1, 100_000):  # past the limit, and past Python's own recursion
        response = client.post("/api/v1/verify", data=f'{{"token": "x", "x": {nested(depth)}}}',
                               content_type="application/json")
        assert response.status_code == 400, response.get_data()[:200]
        assert response.json["field"] == "body"
        assert f"nested more than {MAX_DEPTH} levels" in response.json["error"]


def test_json_just_inside_the_depth_limit_is_read(client):
    body = f'{{"token": "{"B" * 32}", "x": {nested(MAX_DEPTH - 1)}}}'
    response = client.post("/api/v1/verify", data=body, content_type="application/json")
    assert response.status_code == 404 and response.json["status"] == "unknown"


def test_too_many_keys_is_a_400(client):
    keys = ", ".join(f'"k{i}": {i}' for i in range(MAX_KEYS + 1))
    response = client.post("/api/v1/verify", data=f'{{"token": "x", {keys}}}',
                           content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == "body"
    assert f"more than {MAX_KEYS} keys" in response.json["error"]
