"""A PostgreSQL server that speaks TLS only, with certificates made for the test session.

A private CA signs a server certificate for ``localhost`` (DNS name only, so that connecting to
127.0.0.1 with verify-full fails the name check). A second CA signs nothing: the "wrong CA".
The server is any of the suite's majors (every build it uses has OpenSSL), a cluster of its own so
that no other test sees its pg_hba.conf: hostssl lines only, as on RDS with rds.force_ssl = 1.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from servers import PgServer, _give_to, start_server

TLS_SERVER_NAME = "localhost"


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(common_name):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(ca_key, ca_cert, dns_name):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(dns_name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


class TlsServer:
    """A cluster of server ``name`` with ssl = on and hostssl-only access; ``ca`` and ``wrong_ca``
    are PEM paths."""

    def __init__(self, folder: Path, name: str):
        self.folder = folder
        ca_key, ca_cert = make_ca("Kada test CA")
        _, wrong_cert = make_ca("Some other CA")
        key, cert = make_server_cert(ca_key, ca_cert, TLS_SERVER_NAME)
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(_pem(ca_cert))
        self.wrong_ca = folder / "wrong-ca.pem"
        self.wrong_ca.write_bytes(_pem(wrong_cert))
        self.server: PgServer = start_server(name)
        try:
            self._enable_tls(key, cert)
        except BaseException:
            self.server.stop()
            raise

    def _enable_tls(self, key, cert):
        data = self.server.data_dir
        (data / "server.crt").write_bytes(_pem(cert))
        (data / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.TraditionalOpenSSL,
                                                            serialization.NoEncryption()))
        (data / "server.key").chmod(0o600)
        (data / "tls.conf").write_text("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        for path in (data / "server.crt", data / "server.key", data / "tls.conf"):
            _give_to(path, self.server.os_user)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude 'tls.conf'\n")
        self.server.execute("SELECT pg_reload_conf()")
        self._wait_for_tls()
        # As RDS with rds.force_ssl = 1: TCP clients must use TLS (the superuser's too, from now on).
        (data / "pg_hba.conf").write_text("local all all scram-sha-256\n"
                                          "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        _give_to(data / "pg_hba.conf", self.server.os_user)
        self.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the postmaster re-reads pg_hba.conf on SIGHUP

    def _wait_for_tls(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
                    if conn.execute("SHOW ssl").fetchone()[0] == "on":
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not turn TLS on")

    def superuser_dsn(self, dbname="postgres"):
        return self.server.dsn(dbname) + f" sslmode=verify-full sslrootcert={self.ca} host={TLS_SERVER_NAME}"

    def execute(self, query, dbname="postgres"):
        with psycopg.connect(self.superuser_dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(query)
            return cur.fetchall() if cur.description is not None else None

    def stop(self):
        self.server.stop()
