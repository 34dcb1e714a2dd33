import pytest

from tests.factories import PASSWORD, fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.EXCHANGE_THROTTLE_RATES = {"auth_ip": "5/m", "auth_account": "3/m", "trading": "4/m"}


def assert_throttled(resp):
    assert resp.status_code == 429, resp.content
    body = resp.json()
    assert body["error"]["code"] == "throttled"
    assert int(resp["Retry-After"]) > 0


def test_login_is_limited_per_account_whatever_the_ip(api, make_trader, tight):
    user = make_trader()
    for i in range(3):
        resp = api.post(
            "/api/v1/auth/token", {"email": user.email, "password": "wrong"}, format="json", REMOTE_ADDR=f"10.0.0.{i}"
        )
        assert resp.status_code == 401
    # Even the right password from a fresh IP waits once the account's budget is spent.
    resp = api.post(
        "/api/v1/auth/token", {"email": user.email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.99"
    )
    assert_throttled(resp)
    other = make_trader()
    ok = api.post(
        "/api/v1/auth/token", {"email": other.email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.98"
    )
    assert ok.status_code == 200


def test_login_and_registration_are_limited_per_ip(api, tight):
    for i in range(5):
        resp = api.post("/api/v1/auth/token", {"email": f"nobody{i}@example.com", "password": "x"}, format="json")
        assert resp.status_code == 401
    assert_throttled(api.post("/api/v1/auth/register", {"email": "new@example.com", "password": "x"}, format="json"))


def test_order_placement_and_cancels_are_limited_per_user(market, make_trader, auth_client, tight):
    user, other = make_trader(), make_trader()
    fund(user, market.quote, "10000")
    fund(other, market.quote, "10000")
    client = auth_client(user)
    ids = []
    for _ in range(3):
        resp = client.post(
            "/api/v1/orders",
            {"market": market.symbol, "side": "buy", "type": "limit", "price": "100", "quantity": "1"},
            format="json",
        )
        assert resp.status_code == 201
        ids.append(resp.json()["id"])
    assert client.delete(f"/api/v1/orders/{ids[0]}").status_code == 202
    assert_throttled(client.delete(f"/api/v1/orders/{ids[1]}"))
    assert_throttled(
        client.post(
            "/api/v1/orders",
            {"market": market.symbol, "side": "buy", "type": "limit", "price": "100", "quantity": "1"},
            format="json",
        )
    )
    # Reading is not limited, and another trader has a budget of their own.
    assert client.get("/api/v1/orders").status_code == 200
    resp = auth_client(other).post(
        "/api/v1/orders",
        {"market": market.symbol, "side": "buy", "type": "limit", "price": "100", "quantity": "1"},
        format="json",
    )
    assert resp.status_code == 201
