"""Assertions shared by the test directories."""

from __future__ import annotations


def assert_error(response, status: int, code: str) -> dict:
    """The response is the API's error format with this status and code; returns the error object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str), body
    assert body["error"]["message"], body
    assert isinstance(body["error"]["details"], dict), body
    return body["error"]
