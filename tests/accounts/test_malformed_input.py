"""No input, however malformed, yields a 5xx: every refusal is a 4xx in the error format."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PUBLIC = ["/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/token/refresh"]
PRIVATE = ["/api/v1/auth/logout", "/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/confirm", "/api/v1/auth/2fa/disable"]

ODD_VALUES = [
    None,
    0,
    12345678901,
    1.5,
    True,
    [],
    ["a@example.com"],
    {},
    {"nested": "x"},
    "",
    "x" * 100_000,
    "ünïcødé@exämple.com",
    "\u0000",
    "a\u0000b@example.com",
    "😀" * 50,
    "' OR 1=1 --",
]

FIELDS = {
    "/api/v1/auth/register": {"email": "good@example.com", "password": "plum-sofa-orbit-73"},
    "/api/v1/auth/token": {"email": "good@example.com", "password": PASSWORD, "otp": "123456"},
    "/api/v1/auth/token/refresh": {"refresh": "a.b.c"},
    "/api/v1/auth/logout": {"refresh": "a.b.c"},
    "/api/v1/auth/2fa/setup": {"password": PASSWORD},
    "/api/v1/auth/2fa/confirm": {"otp": "123456", "password": PASSWORD},
    "/api/v1/auth/2fa/disable": {"otp": "123456", "password": PASSWORD},
}


def assert_refused(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code != 405:
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]


@pytest.fixture
def client_for(api, auth_client, user):
    def _client(url):
        if url in PRIVATE:
            auth = auth_client(user)
            auth.post("/api/v1/auth/2fa/setup", {"password": PASSWORD}, format="json")
            return auth
        return api

    return _client


@pytest.mark.parametrize("url", PUBLIC + PRIVATE)
@pytest.mark.parametrize(
    "raw",
    [b"not json", b"{", b"[1, 2]", b'"a string"', b"null", b"42", b'{"email": "\xff"}', b"\xff\xfe", b""],
    ids=["text", "truncated", "array", "string", "null", "number", "bad-utf8-value", "bad-utf8", "empty"],
)
def test_a_body_that_is_not_a_json_object_is_refused(client_for, url, raw):
    response = client_for(url).generic("POST", url, raw, content_type="application/json")

    assert_refused(response)


@pytest.mark.parametrize("url", PUBLIC + PRIVATE)
def test_a_form_encoded_body_is_refused(client_for, url):
    response = client_for(url).post(url, FIELDS[url])

    assert_refused(response)
    assert response.status_code == 415


@pytest.mark.parametrize("url", PUBLIC + PRIVATE)
def test_missing_fields_are_a_validation_error(client_for, url):
    response = client_for(url).post(url, {}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    required = {k for k in FIELDS[url] if k != "otp" or url.endswith(("confirm", "disable"))}
    assert set(error["details"]["fields"]) == required


@pytest.mark.parametrize("url", PUBLIC + PRIVATE)
@pytest.mark.parametrize("value", ODD_VALUES, ids=range(len(ODD_VALUES)))
def test_odd_values_in_every_field_are_refused_cleanly(client_for, url, value):
    client = client_for(url)
    for field in FIELDS[url]:
        body = {**FIELDS[url], field: value}

        response = client.post(url, body, format="json")

        assert response.status_code < 500, (field, response.content[:300])
        if response.status_code >= 400:
            assert_refused(response)


@pytest.mark.parametrize("value", [0, 12345678901, True, [], {}, ["x"]])
@pytest.mark.parametrize("field", ["email", "password"])
def test_register_refuses_non_string_fields(api, field, value):
    body = {"email": "typed@example.com", "password": "plum-sofa-orbit-73", field: value}

    response = api.post("/api/v1/auth/register", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]["fields"]


def test_register_refuses_a_null_byte_in_the_password(api):
    body = {"email": "nul@example.com", "password": "plum-sofa\u0000-orbit-73"}

    response = api.post("/api/v1/auth/register", body, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]["fields"]


def test_register_refuses_a_huge_password(api):
    body = {"email": "huge@example.com", "password": "p" * 100_000}

    response = api.post("/api/v1/auth/register", body, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]["fields"]


def test_unicode_password_round_trips(api, login):
    password = "ünïcødé-pässwörd-😀-42"
    assert (
        api.post("/api/v1/auth/register", {"email": "uni@example.com", "password": password}, format="json").status_code
        == 201
    )

    assert login(api, "uni@example.com", password).status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/2fa/setup", "/api/v1/me"])
def test_wrong_methods_are_refused(api, url):
    assert api.delete(url).status_code in {401, 405}


@pytest.mark.parametrize("url", ["/api/v1/auth/register/", "/api/v1/auth/token/", "/api/v1/me/"])
def test_paths_with_a_trailing_slash_do_not_exist(api, url):
    assert api.post(url, {}, format="json").status_code == 404
