"""Real PostgreSQL servers writing their own log files, for the query log tests.

``start_logging_server`` starts a server of tests/servers.py, turns its logging collector on (in
``postgresql.auto.conf``, with ALTER SYSTEM) and restarts it, so that it writes stderr, csvlog and
jsonlog files into ``<root>/logs``; stopping the server deletes them with it.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from servers import PgServer, _pg_ctl, start_server

RDS_PREFIX = "%t:%r:%u@%d:[%p]:"
LOG_FILENAME = "postgresql-%Y%m%d_%H%M%S.log"


@dataclass
class LoggingServer:
    server: PgServer
    line_prefix: str
    log_timezone: str

    @property
    def log_dir(self) -> Path:
        return self.server.root / "logs"

    def current_files(self) -> list[str]:
        """The files the server writes to now (pg_current_logfile of each destination)."""
        # Only the configured destinations: before 15, asking for jsonlog is an error.
        rows = self.server.execute("SELECT pg_current_logfile(trim(d)) "
                                   "FROM unnest(string_to_array(current_setting('log_destination'), ',')) d")
        return sorted(Path(row[0]).name for row in rows if row[0])

    def rotate(self, timeout: float = 5.0) -> None:
        """Switch to new log files. PostgreSQL names them to the second and reopens the same file
        when the name has not changed, so this asks again until the names change."""
        before = self.current_files()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.server.execute("SELECT pg_rotate_logfile()")
            for _ in range(10):
                time.sleep(0.05)
                now = self.current_files()
                if now and not set(now) & set(before):
                    return
        raise RuntimeError(f"the log files of {self.server.name} did not rotate within {timeout}s")

    def gzip(self, names: list[str]) -> list[Path]:
        """Compress closed log files as logrotate would (gzip keeps the file's mtime)."""
        paths = [self.log_dir / name for name in names]
        subprocess.run(["gzip", *map(str, paths)], check=True, capture_output=True)
        return [path.with_name(path.name + ".gz") for path in paths]

    def stop(self) -> None:
        self.server.stop()


def start_logging_server(name: str, line_prefix: str, log_timezone: str, destinations: str = "stderr,csvlog,jsonlog",
                         **settings: str) -> LoggingServer:
    """Start server ``name`` logging to ``destinations`` with this prefix and time zone; more
    postgresql.conf ``settings`` as keyword arguments."""
    server = start_server(name)
    try:
        values = {
            "logging_collector": "on",
            "log_destination": destinations,
            "log_directory": str(server.root / "logs"),
            "log_filename": LOG_FILENAME,
            "log_line_prefix": line_prefix,
            "log_timezone": log_timezone,
            "lc_messages": "C",
            **settings,
        }
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            for key, value in values.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), sql.Literal(value)))
        _pg_ctl(server.bin_dir, server.root, server.os_user, "restart", "--mode", "fast", "--log",
                str(server.log_file), "--wait", "--timeout", "60")
    except BaseException:
        server.stop()
        raise
    return LoggingServer(server, line_prefix, log_timezone)


def next_second() -> None:
    """Sleep into the next wall-clock second, so that %t (whole seconds) tells lines apart."""
    now = datetime.now(timezone.utc)
    time.sleep(1.02 - now.microsecond / 1e6)
