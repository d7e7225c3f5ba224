"""A hot standby streaming from a harness primary: ``pg_basebackup -R`` into a temp dir, started on
a free port as the harness starts primaries (as the unprivileged OS user when we are root)."""

from __future__ import annotations

import time

import psycopg
from psycopg.conninfo import make_conninfo

from servers import HOST, PgServer, _clean_env, _free_port, _give_to, _make_root, _pg_ctl, _run, _teardown


class Standby:
    def __init__(self, primary: PgServer, settings: dict[str, str] | None = None):
        self.primary = primary
        self.root = _make_root(f"{primary.name}-standby", primary.os_user)
        self.port = _free_port()
        data = self.root / "data"
        socket_dir = self.root / "socket"
        socket_dir.mkdir()
        _give_to(socket_dir, primary.os_user)
        try:
            _run([str(primary.client("pg_basebackup")), "--pgdata", str(data), "--write-recovery-conf",
                  "--checkpoint=fast", "--wal-method=stream", "--no-sync",
                  "--dbname", make_conninfo(host=HOST, port=primary.port, user=primary.superuser)],
                 os_user=primary.os_user, cwd=self.root,
                 env=_clean_env(PGPASSWORD=primary.password))
            conf = {"listen_addresses": HOST, "port": str(self.port), "unix_socket_directories": str(socket_dir),
                    "hot_standby": "on", **(settings or {})}
            if primary.has_pg_stat_statements:
                conf["shared_preload_libraries"] = "pg_stat_statements"
            (data / "harness.conf").write_text("".join(f"{k} = '{v}'\n" for k, v in conf.items()))
            _give_to(data / "harness.conf", primary.os_user)
            _pg_ctl(primary.bin_dir, self.root, primary.os_user, "start", "--log", str(self.root / "server.log"),
                    "--wait", "--timeout", "60")
        except BaseException:
            self.stop()
            raise
        # The same superuser and password as the primary's: the backup copied them.
        self.server = PgServer(name=f"{primary.name}-standby", version=primary.version, port=self.port,
                               password=primary.password, bin_dir=primary.bin_dir, root=self.root,
                               has_pg_stat_statements=primary.has_pg_stat_statements, os_user=primary.os_user)

    def wait_for_replay(self, timeout: float = 30) -> None:
        """Until the standby has replayed everything the primary wrote so far."""
        (lsn,) = self.primary.execute("SELECT pg_current_wal_lsn()::text")[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(self.server.dsn(), autocommit=True) as conn:
                if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the standby did not replay up to {lsn} within {timeout}s")

    def stop(self) -> None:
        _teardown(self.primary.bin_dir, self.root, self.primary.os_user)
