"""Throw-away TLS services for the internal-TLS test: a CA, a redis-server, a PostgreSQL cluster.

Everything lives in one temporary directory (owned by the ``postgres`` user, as initdb
and the server refuse to run as root) and on free loopback ports; nothing touches the
shared services.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.waiting import wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def require(path: str | Path) -> str:
    """The binary's path; missing: a failure in CI (CI=true), a skip elsewhere."""
    found = (
        shutil.which(str(path)) if not os.path.isabs(str(path)) else (str(path) if os.access(path, os.X_OK) else None)
    )
    if found is None:
        message = f"the internal-TLS test needs {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a missing binary is a failure)")
        pytest.skip(message)
    return found


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exchange test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths.key.chmod(0o600)
    return paths


class TLSRedis:
    """redis-server with TLS only (``--port 0``): a plain-text client cannot even connect."""

    def __init__(self, directory: Path, certs: Certificates) -> None:
        self.binary = require("redis-server")
        self.directory = directory
        self.certs = certs
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rediss://{LOOPBACK}:{self.port}/0"

    def client(self, **kwargs):
        import redis

        return redis.Redis.from_url(self.url, ssl_cert_reqs="required", ssl_ca_certs=str(self.certs.ca), **kwargs)

    def start(self) -> None:
        log = open(self.directory / "redis.log", "ab")  # closed with the process
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--bind", LOOPBACK,
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.certs.cert),
                "--tls-key-file", str(self.certs.key),
                "--tls-ca-cert-file", str(self.certs.ca),
                "--tls-auth-clients", "no",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited (no TLS support?): {(self.directory / 'redis.log').read_text()}"
                )
            try:
                return self.client(socket_connect_timeout=0.5).ping()
            except Exception:  # noqa: BLE001 - not up yet
                return False

        wait_until(answers, 15, what="redis-server with TLS to answer", interval=0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class TLSPostgres:
    """A private PostgreSQL 15 cluster whose pg_hba.conf accepts TCP clients over TLS only."""

    def __init__(self, directory: Path, certs: Certificates) -> None:
        self.initdb = require(PG_BIN / "initdb")
        self.pg_ctl = require(PG_BIN / "pg_ctl")
        self.runuser = require("runuser")
        self.directory = directory
        self.data = directory / "data"
        self.certs = certs
        self.port = free_port()

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([self.runuser, "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=timeout)

    def url(self, database: str, **options: str) -> str:
        query = "&".join(
            f"{k}={v}" for k, v in {"sslmode": "verify-full", "sslrootcert": str(self.certs.ca), **options}.items()
        )
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{database}?{query}"

    def start(self) -> None:
        self._as_postgres(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"""
listen_addresses = '{LOOPBACK}'
port = {self.port}
unix_socket_directories = '{self.directory}'
ssl = on
ssl_cert_file = '{self.certs.cert}'
ssl_key_file = '{self.certs.key}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
"""
            )
        (self.data / "pg_hba.conf").write_text(
            f"local all all trust\nhostssl all all {LOOPBACK}/32 trust\nhostnossl all all {LOOPBACK}/32 reject\n"
        )
        self._as_postgres(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.directory / "pg.log"), "-w", "-t", "30", "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")


def owned_by_postgres(directory: Path) -> None:
    shutil.chown(directory, "postgres", "postgres")
    for path in directory.rglob("*"):
        shutil.chown(path, "postgres", "postgres")
