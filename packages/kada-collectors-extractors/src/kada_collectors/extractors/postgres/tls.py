"""TLS failures told apart, each with its fix; and what a connection's TLS actually was."""

import re

from kada_collectors.lib.redact import redact_credentials

from .rds import RDS_CA_BUNDLE_URL, is_rds_endpoint
from .statements import tagged

VERIFYING_MODES = ("verify-ca", "verify-full")
_ROOT_FILE_MISSING = re.compile(r'root certificate file "([^"]*)" does not exist')
_NAME_MISMATCH = re.compile(r'server certificate for "([^"]*)"(?: \(and \d+ other names?\))? does not match host name')


def _ca_hint(settings):
    if is_rds_endpoint(settings.get("server")):
        return f"the RDS CA bundle, published by AWS at {RDS_CA_BUNDLE_URL}"
    return f"the certificate of the CA that signed the server's certificate (RDS/Aurora: {RDS_CA_BUNDLE_URL})"


def explain_tls_error(text, settings):
    """What a TLS failure means and what to do; None when ``text`` is not about TLS."""
    where = f"{settings['server']}:{settings['port']}"
    mode = settings.get("sslmode")
    rootcert = settings.get("sslrootcert")
    lowered = text.lower()
    missing = _ROOT_FILE_MISSING.search(text)
    if missing:
        path = missing.group(1)
        if rootcert:
            return (f"TLS to {where}: 'sslrootcert' {path} does not exist on this machine. Put {_ca_hint(settings)} "
                    "there, or point 'sslrootcert' at where it is.")
        return (f"TLS to {where}: sslmode {mode} verifies the server's certificate, but no CA was given "
                f"(libpq looked for {path}). Set 'sslrootcert' to the absolute path of {_ca_hint(settings)}.")
    if "certificate verify failed" in lowered or "unable to get local issuer certificate" in lowered \
            or "self-signed certificate" in lowered or "self signed certificate" in lowered:
        return (f"TLS to {where}: the server's certificate is not signed by a CA in 'sslrootcert' "
                f"({rootcert or 'libpq default'}), or it has expired. The server may not be the one you meant; if it "
                f"is, set 'sslrootcert' to {_ca_hint(settings)}.")
    mismatch = _NAME_MISMATCH.search(text)
    if mismatch or "does not match host name" in lowered:
        name = mismatch.group(1) if mismatch else "another name"
        return (f"TLS to {where}: the server's certificate is for {name!r}, not for {settings['server']!r} "
                "(sslmode verify-full checks the name). Set 'server' to the name in the certificate (RDS/Aurora: the "
                "endpoint's DNS name, not an IP address or an alias), or use sslmode verify-ca to skip the name check.")
    if "server does not support ssl" in lowered:
        return (f"TLS to {where}: the server does not accept TLS, and sslmode {mode} requires it. Turn TLS on in the "
                "server (ssl = on), or ask its DBA; do not lower sslmode where the network is not trusted.")
    # "no encryption" from PostgreSQL 14 on, "SSL off" before.
    if "no pg_hba.conf entry" in lowered and ("no encryption" in lowered or "ssl off" in lowered):
        return (f"{where} refuses unencrypted connections for this user and database (pg_hba.conf has only hostssl "
                "entries; on RDS/Aurora, rds.force_ssl = 1), and sslmode is "
                f"{mode}. Set \"sslmode\": \"verify-full\" and 'sslrootcert' to {_ca_hint(settings)}.")
    if "ssl" in lowered and ("certificate" in lowered or "handshake" in lowered or "ssl error" in lowered
                             or "required" in lowered or "unsupported" in lowered):
        return (f"TLS negotiation with {where} failed: {redact_credentials(_last_line(text))}. Check 'sslmode' and "
                f"'sslrootcert' (RDS/Aurora: sslmode verify-full with {RDS_CA_BUNDLE_URL}).")
    return None


def _last_line(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def tls_state(conn, settings, protocol=False):
    """What the connection's TLS is: a dict for messages. ``protocol`` asks the server for the TLS
    version (one round trip)."""
    used = bool(conn.pgconn.ssl_in_use)
    state = {"used": used, "sslmode": settings.get("sslmode"), "verified": False, "name_checked": False,
             "protocol": "TLS"}
    if used:
        if protocol:
            row = conn.execute(tagged("SELECT version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()"))
            state["protocol"] = (row.fetchone() or ["TLS"])[0] or "TLS"
        # With a CA file, libpq verifies the chain even for 'require' (as for verify-ca).
        state["verified"] = settings.get("sslmode") in VERIFYING_MODES
        state["name_checked"] = settings.get("sslmode") == "verify-full"
    return state


def describe_tls(state):
    if not state["used"]:
        return f"not encrypted (sslmode {state['sslmode']})"
    if state.get("name_checked"):
        return f"{state['protocol']}, the server's certificate and name verified (sslmode verify-full)"
    if state["verified"]:
        return f"{state['protocol']}, the server's certificate verified but not its name (sslmode {state['sslmode']})"
    return f"{state['protocol']}, encrypted but the server's identity not verified (sslmode {state['sslmode']})"
