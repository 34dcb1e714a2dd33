import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_describes_the_api(client):
    resp = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    schema = resp.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/markets/{symbol}/depth",
        "/api/v1/balances",
        "/api/v1/withdrawals",
        "/api/v1/custody/deposits",
    ):
        assert path in paths, path


def test_swagger_ui_is_served_without_any_cdn(client):
    resp = client.get("/api/v1/docs/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
