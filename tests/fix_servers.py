"""Fixtures giving tests real PostgreSQL servers (see servers.py), a pytest plugin of conftest.py.

``pg_server`` is each major in turn, ``pg18`` the newest alone, both shared by the whole session;
``own_pg18`` is a server of a module's own, for tests that change the server itself (its
databases, its replication); ``tls_server`` is each major with TLS only. A server that cannot be
had on this machine skips the tests that need it.

Tests given a major other than PostgreSQL 18 (by a fixture's parameter or their own) are marked
``servers``: ``-m "not servers"`` runs the suite against PostgreSQL 18 alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from servers import SERVER_NAMES, PgServer, ServerPool, ServerUnavailable, start_server


# The majors that cost a server start of their own (pg18 serves most of the suite anyway).
OTHER_MAJORS = frozenset(SERVER_NAMES) - {"pg18"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``servers`` each test given another major by a parameter (its own or a fixture's)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and any(isinstance(value, str) and value in OTHER_MAJORS
                                        for value in callspec.params.values()):
            item.add_marker(pytest.mark.servers)


@contextmanager
def skipped_if_unavailable(name: str) -> Iterator[None]:
    """Skips the test when server ``name`` cannot be had here (``ServerUnavailable``)."""
    try:
        yield
    except ServerUnavailable as exc:
        pytest.skip(f"{name} unavailable: {exc}")


@pytest.fixture(scope="session")
def pg_pool() -> Iterator[ServerPool]:
    """All servers of the session; each is started on first use."""
    pool = ServerPool()
    yield pool
    pool.close()


# The servers live in pg_pool rather than in this fixture: pytest tears a
# parametrized session fixture down when it moves on to the next parameter,
# which would restart a server for any later test needing it again.
@pytest.fixture(scope="session", params=SERVER_NAMES, ids=SERVER_NAMES)
def pg_server(request: pytest.FixtureRequest, pg_pool: ServerPool) -> PgServer:
    """Each supported PostgreSQL version in turn."""
    with skipped_if_unavailable(request.param):
        return pg_pool.get(request.param)


@pytest.fixture(scope="session")
def pg18(pg_pool: ServerPool) -> PgServer:
    """The PostgreSQL 18 server, for tests that need just one."""
    with skipped_if_unavailable("pg18"):
        return pg_pool.get("pg18")


@pytest.fixture(scope="module")
def own_pg18() -> Iterator[PgServer]:
    """A PostgreSQL 18 server of the module's own (stopped after its last test), for tests that
    need to know every database on the server or to change the server itself."""
    with skipped_if_unavailable("pg18"):
        server = start_server("pg18")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=SERVER_NAMES, ids=SERVER_NAMES)
def tls_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A cluster of each major in turn with ssl = on and hostssl-only pg_hba.conf, and its CA (and a
    wrong one)."""
    from tls_servers import TlsServer
    with skipped_if_unavailable(request.param):
        server = TlsServer(tmp_path_factory.mktemp(f"tls-{request.param}"), request.param)
    yield server
    server.stop()
