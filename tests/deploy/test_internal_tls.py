"""Finding 11: PostgreSQL and Redis traffic can require verified TLS, in every process.

The integration test starts a PostgreSQL cluster and a redis-server that accept TLS only,
with a throw-away CA, migrates a database there, and trades one order through the real
web server, matcher and Celery worker, then reads from both servers that every
connection is TLS (the servers refuse plain-text clients, so the web requests that
worked went over TLS too). ``check --deploy`` warns about plain-text internal URLs.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import httpx
import psycopg
import pytest
import redis

from exchange_site.checks import internal_tls_check, internal_tls_warnings
from tests.integration.stack import Stack, free_port
from tools.waiting import wait_until

from .tls_services import TLSPostgres, TLSRedis, make_certificates, owned_by_postgres, require

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "exchange_tls"
PROCESSES = ("web", "matcher", "worker")
# One process (each Django start costs seconds on a busy box): migrate over TLS, run the
# deploy checks, and create a market with two funded traders.
SETUP = """
import io, json
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
out = io.StringIO()
call_command("check", deploy=True, stdout=out, stderr=out)
from tests.factories import MarketFactory, UserFactory, fund
market = MarketFactory()
seller, buyer = UserFactory(), UserFactory()
fund(seller, market.base, "2")
fund(buyer, market.quote, "1000")
print(json.dumps({"check": out.getvalue(), "traders": [seller.email, buyer.email]}))
"""


# -- the deploy check ------------------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path) -> dict:
    """Connection settings of a deployment with verified TLS to both servers."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    return {
        "database": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "db.internal",
            "OPTIONS": {"sslmode": "verify-full", "sslrootcert": str(ca)},
        },
        "redis_url": "rediss://redis.internal:6379/0",
        "redis_ca_cert": str(ca),
    }


def ids(deployment: dict) -> list[str]:
    return [m.id for m in internal_tls_warnings(**deployment)]


def test_check_deploy_accepts_verified_tls_to_postgres_and_redis(deployment):
    assert ids(deployment) == []


@pytest.mark.parametrize("sslmode", [None, "disable", "prefer", "require"])
def test_check_deploy_warns_when_postgres_is_not_verified_tls(deployment, sslmode):
    deployment["database"]["OPTIONS"] = {"sslmode": sslmode} if sslmode else {}

    assert ids(deployment) == ["exchange.W004"]


def test_check_deploy_accepts_postgres_on_a_unix_socket(deployment):
    deployment["database"].update(HOST="/var/run/postgresql", OPTIONS={})

    assert ids(deployment) == []


def test_check_deploy_warns_when_redis_is_plain_text(deployment):
    deployment["redis_url"] = "redis://redis.internal:6379/0"

    assert ids(deployment) == ["exchange.W005"]


def test_check_deploy_warns_about_a_missing_ca_file(deployment, tmp_path):
    deployment["redis_ca_cert"] = str(tmp_path / "nowhere.pem")

    assert ids(deployment) == ["exchange.W006"]


def test_internal_tls_required_off_silences_the_warnings_for_a_single_host(settings):
    settings.EMBEDDED = False
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.INTERNAL_TLS_REQUIRED = True
    assert "exchange.W005" in [m.id for m in internal_tls_check()]

    settings.INTERNAL_TLS_REQUIRED = False

    assert internal_tls_check() == []


def test_manage_check_deploy_warns_about_plain_text_internal_urls():
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": "postgres://postgres@db.internal:5432/x",
            "REDIS_URL": "redis://redis.internal:6379/0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CUSTODY_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "exchange.example.com",
            "DEBUG": "0",
        }
    )
    for name in ("SECURE_SSL_REDIRECT", "INTERNAL_TLS_REQUIRED"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "exchange.W004" in result.stderr + result.stdout
    assert "exchange.W005" in result.stderr + result.stdout


def test_every_redis_client_gets_the_tls_options():
    """The settings hand REDIS_CA_CERT to the cache, the channel layer, Celery and the wake-up."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(
        {
            "DATABASE_URL": "postgres://postgres@db.internal:5432/x?sslmode=verify-full",
            "REDIS_URL": "rediss://redis.internal:6380/0",
            "REDIS_CA_CERT": "/etc/exchange/ca.pem",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CUSTODY_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "DJANGO_SETTINGS_MODULE": "exchange_site.settings",
        }
    )
    code = """
import django, ssl
django.setup()
from django.conf import settings
from celery import current_app
from channels.layers import get_channel_layer
from matching import wakeup
opts = settings.CACHES["default"]["OPTIONS"]
assert opts["ssl_ca_certs"] == "/etc/exchange/ca.pem" and opts["ssl_cert_reqs"] == "required", opts
host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
assert host["ssl_ca_certs"] == "/etc/exchange/ca.pem", host
import exchange_site.celery
assert current_app.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/exchange/ca.pem"}
kwargs = wakeup._redis().connection_pool.connection_kwargs
assert kwargs["ssl_ca_certs"] == "/etc/exchange/ca.pem", kwargs
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok", result.stderr


# -- the live test ---------------------------------------------------------------------------


@pytest.fixture
def tls_services():
    require("runuser")
    directory = Path(tempfile.mkdtemp(prefix="exchange-tls-"))
    certs = make_certificates(directory)
    owned_by_postgres(directory)
    redis_server, postgres = TLSRedis(directory, certs), TLSPostgres(directory, certs)
    try:
        redis_server.start()
        postgres.start()
        yield SimpleNamespace(redis=redis_server, postgres=postgres, certs=certs)
    finally:
        redis_server.stop()
        postgres.stop()
        subprocess.run(["rm", "-rf", str(directory)], check=False)


def tls_env(services) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": services.postgres.url(DATABASE),
            "REDIS_URL": services.redis.url,
            "REDIS_CA_CERT": str(services.certs.ca),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CUSTODY_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "MATCHER_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            "THROTTLE_AUTH_IP": "1000000/m",
            "THROTTLE_AUTH_ACCOUNT": "1000000/m",
            "THROTTLE_TRADING": "1000000/m",
        }
    )
    env.pop("INTERNAL_TLS_REQUIRED", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def login(base_url: str, email: str) -> httpx.Client:
    from tests.factories import PASSWORD

    http = httpx.Client(base_url=base_url, timeout=30)
    resp = http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    http.headers["Authorization"] = f"Bearer {resp.json()['access']}"
    return http


@pytest.mark.postgres
@pytest.mark.integration
def test_an_order_is_matched_and_settled_with_every_internal_connection_over_tls(tls_services):
    env = tls_env(tls_services)
    with psycopg.connect(tls_services.postgres.url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE}")
    setup = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    seller_email, buyer_email = setup["traders"]
    assert "exchange.W00" not in setup["check"], setup["check"]

    stack = Stack(port=free_port(), env=env)
    try:
        for name in PROCESSES:
            # Each process names itself to PostgreSQL, so pg_stat_ssl shows who is connected how.
            stack.start(name, env={"DATABASE_URL": tls_services.postgres.url(DATABASE, application_name=f"tls-{name}")})
        stack.wait_http()
        seller, buyer = login(stack.url, seller_email), login(stack.url, buyer_email)
        sell = seller.post(
            "/api/v1/orders",
            json={"market": "BTC-USDT", "side": "sell", "type": "limit", "price": "100", "quantity": "1"},
        )
        assert sell.status_code == 201, sell.text
        buy = buyer.post(
            "/api/v1/orders",
            json={"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "quantity": "1"},
        )
        assert buy.status_code == 201, buy.text

        def btc_settled():
            rows = {r["currency"]: r for r in buyer.get("/api/v1/balances").json()}
            return "BTC" in rows and Decimal(rows["BTC"]["balance"]) > 0

        wait_until(btc_settled, 30, what="the trade to be matched and settled")
        assert buyer.get(f"/api/v1/orders/{buy.json()['id']}").json()["status"] == "filled"

        with psycopg.connect(tls_services.postgres.url(DATABASE), autocommit=True) as db:
            rows = db.execute(
                "SELECT a.application_name, s.ssl, s.version FROM pg_stat_activity a "
                "JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.datname = %s AND a.pid <> pg_backend_pid()",
                [DATABASE],
            ).fetchall()
        by_process = {}
        for app, ssl_on, version in rows:
            by_process.setdefault(app, set()).add((ssl_on, version))
        for name in ("matcher", "worker"):
            assert f"tls-{name}" in by_process, rows
        assert all(ssl_on and version and version.startswith("TLS") for _, ssl_on, version in rows), rows
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(tls_services.postgres.url(DATABASE, sslmode="disable"), connect_timeout=5).close()

        clients = tls_services.redis.client().client_list()
        assert len(clients) >= 3, clients  # web (cache, channel layer), matcher wake-up, worker broker
        plain = redis.Redis(host="127.0.0.1", port=tls_services.redis.port, socket_timeout=2)
        with pytest.raises(Exception):  # noqa: B017, PT011 - a TLS port does not speak plain RESP
            plain.ping()
    finally:
        stack.stop_all()
