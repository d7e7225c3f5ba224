#!/usr/bin/env python
"""What the customer's wrapper does when something is wrong: exit codes, tracebacks, secrets.

    python benchmarks/safety_wrapper.py [--dsn "..."]

Runs the example wrapper script, copied unchanged, in a subprocess against a real server: one
good database listed with a missing one and one the user may not CONNECT to; a bad config; a
corrupt HWM file; an unreachable server; a wrong password; a bug in a script after
``get_generic_logger``. Then writes a connection URI with its password into 'server',
'username' and a database name, and runs the wrapper, ``kada-collector run`` and
``kada-collector doctor`` on each, counting the outputs that show the password. Prints the
figures as JSON. Without ``--dsn`` it starts the benchmark's own server (local_server.py).
"""

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from local_server import extractor_connection  # noqa: E402
from safety import part_main  # noqa: E402

EXAMPLES = Path(__file__).parents[1] / "examples"
WRAPPER = "kada_postgres_extractor.py"
GOOD, MISSING, LOCKED = "kada_safety_good", "kada_safety_missing", "kada_safety_locked"
USER = "kada_safety_ro"
BIN = Path(sys.executable).parent


def measure(admin_dsn: str, workdir: Path) -> dict:
    """The wrapper's figures against the server of ``admin_dsn`` (a superuser), in ``workdir``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    _prepare_server(admin_dsn, password)
    wrapper = workdir / WRAPPER
    shutil.copy(EXAMPLES / WRAPPER, wrapper)
    connection, _ = extractor_connection(admin_dsn)
    base = {"host": "safety.postgres.localhost", **connection, "username": USER, "password": password,
            "databases": [GOOD], "output_path": str(workdir / "out"),
            "snapshot_path": str(workdir / "snapshots.sqlite"), "connect_timeout": 2}
    figures = {}
    figures.update(_one_bad_database(wrapper, workdir, {**base, "databases": [GOOD, MISSING, LOCKED]}))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    cases = {
        "bad_config": ({"host": "h", "server": "s", "databases": [], "output_path": "relative"}, None),
        "corrupt_hwm": (base, "yesterday\n"),
        "unreachable": ({**base, "server": "127.0.0.1", "port": free_port}, None),
        "wrong_password": ({**base, "password": password + "-wrong"}, None),
    }
    if _accepts_any_password(admin_dsn, password):
        del cases["wrong_password"]
        figures["wrong_password.exit_code"] = "n/a (the server trusts every login)"
    for case, (config, hwm) in cases.items():
        result, _ = _wrapper_run(wrapper, workdir, config, hwm)
        figures[f"{case}.exit_code"] = result.returncode
        figures[f"{case}.tracebacks"] = result.stderr.count("Traceback")
        figures[f"{case}.error_messages"] = result.stderr.count(" ERROR ")
    figures.update(_bug(workdir))
    figures.update(_password_in_uri(wrapper, workdir, base))
    return figures


def _prepare_server(admin_dsn, password):
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (USER,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(USER)))
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(USER), sql.Literal(password)))
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(MISSING)))
        for name in (GOOD, LOCKED):
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(LOCKED)))
    good_dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=GOOD)
    with psycopg.connect(good_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, placed_at timestamptz)")
        conn.execute("CREATE OR REPLACE VIEW recent_orders AS SELECT id FROM orders WHERE placed_at > now() - interval '1 day'")


def _accepts_any_password(admin_dsn, password):
    """Whether the server lets the user in with a wrong password (trust authentication)."""
    try:
        psycopg.connect(psycopg.conninfo.make_conninfo(admin_dsn, dbname=GOOD, user=USER, password=password + "-wrong"),
                        connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def _wrapper_run(wrapper, workdir, config, hwm=None):
    """Run the wrapper on ``config`` with a fresh HWM file (``hwm`` written in it, or none)."""
    hwm_file = workdir / "postgres_hwm.txt"
    hwm_file.unlink(missing_ok=True)
    if hwm is not None:
        hwm_file.write_text(hwm)
    shutil.rmtree(workdir / "out", ignore_errors=True)
    path = workdir / "kada_postgres_extractor_config.json"
    path.write_text(json.dumps(config))
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(wrapper), "--config", str(path)], cwd=workdir,
                            capture_output=True, text=True, timeout=300)
    return result, time.monotonic() - started


def _one_bad_database(wrapper, workdir, config):
    result, seconds = _wrapper_run(wrapper, workdir, config)
    manifests = sorted((workdir / "out").glob("postgres_manifest_*.json"))
    databases = json.loads(manifests[-1].read_text())["databases"] if manifests else []
    failed = {d["name"]: d["error"] or "" for d in databases if d["status"] == "failed"}
    return {
        "one_bad_database.exit_code": result.returncode,
        "one_bad_database.tracebacks": result.stderr.count("Traceback"),
        "one_bad_database.extracted": f"{len(databases) - len(failed)} of {len(config['databases'])}",
        "one_bad_database.failed_with_fix_in_manifest": sum(
            1 for error in failed.values() if "does not exist" in error or "GRANT CONNECT" in error),
        "one_bad_database.hwm_published": "yes" if (workdir / "postgres_hwm.txt").exists() else "no",
        "one_bad_database.seconds": round(seconds, 2),
    }


def _bug(workdir):
    """An unexpected exception in a script that called get_generic_logger: traceback kept, secret redacted."""
    secret = secrets.token_urlsafe(12)
    script = workdir / "bug.py"
    script.write_text("from kada_collectors.extractors.utils import get_generic_logger\n"
                      "get_generic_logger('root')\n"
                      f"raise RuntimeError('a bug near postgresql://kada:{secret}@db/dwh')\n")
    result = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=60)
    return {"bug.exit_code": result.returncode, "bug.tracebacks": result.stderr.count("Traceback"),
            "bug.secret_shown": int(secret in result.stderr)}


def _password_in_uri(wrapper, workdir, base):
    """A URI with a password in 'server', 'username' or a database name, through every face."""
    secret = secrets.token_urlsafe(12)
    uri = f"postgresql://kada:{secret}@db.example.com:5432/dwh"
    path = workdir / "uri_config.json"
    checked, shown, codes = 0, 0, set()
    for where in ("server", "username", "databases"):
        config = {**base, where: [uri] if where == "databases" else uri,
                  "landing": {"type": "local", "path": str(workdir)}}
        path.write_text(json.dumps(config))
        for command in ([sys.executable, str(wrapper)], [str(BIN / "kada-collector"), "run"],
                        [str(BIN / "kada-collector"), "doctor"]):
            result = subprocess.run([*command, "--config", str(path)], cwd=workdir, capture_output=True, text=True,
                                    timeout=120)
            checked += 1
            shown += int(secret in result.stdout + result.stderr)
            codes.add(result.returncode)
    return {"password_in_uri.outputs_checked": checked, "password_in_uri.outputs_showing_it": shown,
            "password_in_uri.exit_codes": ",".join(map(str, sorted(codes)))}


def main(argv=None) -> None:
    part_main(measure, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    main()
