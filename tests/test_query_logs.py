"""Reading statements back from the logs real PostgreSQL servers wrote (querylog/logs.py).

A server of each major logs the same workload, each in another way:

* pg18: stderr with ``%m [%p] %q%u@%d app=%a %e %c`` plus csvlog and jsonlog, log_timezone
  Asia/Kolkata (abbreviated ``IST``, which is ambiguous), log_min_duration_statement = 0;
* pg17: the same prefix and destinations in UTC;
* pg15: stderr with RDS's ``%t:%r:%u@%d:[%p]:`` plus csvlog and jsonlog, log_timezone
  America/New_York (``EST``/``EDT``, read without help), log_statement = all and
  log_min_duration_statement = 0 (statement and duration on separate lines);
* pg14: as pg15, with stderr and csvlog only (jsonlog came with 15);
* pg13: as pg17, with stderr and csvlog only;
* pg16: stderr only, with a prefix using every escape, log_timezone Asia/Dubai (``+04``),
  log_statement = all and log_duration = on, log_error_verbosity = verbose (``LOG:  00000: ...``
  and ``LOCATION:`` lines).

The workload has three phases a second apart, the log files are rotated between the first two
and the first phase's files gzipped. The pg15 stderr lines are also put into moto's CloudWatch
Logs server as an RDS instance would export them.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from kada_collectors.extractors.postgres.querylog.cloudwatch import read_cloudwatch
from kada_collectors.extractors.postgres.querylog.logs import LogReadError, read_log_files
from fix_aws import SECRET_KEY
from log_servers import RDS_PREFIX, LoggingServer, next_second, start_logging_server
from servers import ServerUnavailable

# The module's servers (six majors) start together, whatever test needs them.
pytestmark = pytest.mark.servers

APP = "kada query log test"
ANALYST = "analyst"
SALES = "sales"
SECRET = "sekr1t"  # in every bind parameter: must never reach a statement
FORMATS = ("stderr", "csvlog", "jsonlog")
WIDE = timedelta(hours=6)

PG18_PREFIX = "%m [%p] %q%u@%d app=%a %e %c "
EVERY_ESCAPE_PREFIX = "%m|%n|%t|%s|%p|%P|%u|%d|%a|%h|%r|%l|%c|%v|%x|%e|%Q|%b|%i|%%|%-12u|%10d|%q|after-q "

MULTI_LINE = "SELECT n,\n       n * 2 AS twice\n  FROM generate_series(1, 3) AS g(n)\n WHERE n > 1"
QUOTED_NEWLINE = "SELECT 'line one\nline two' AS quoted,\n\t'tabbed' AS t"
TRICKY = "SELECT 'duration: 5 ms  statement: fake' AS tricky"
LAST = "SELECT 'the last one',\n       'continued' AS last_marker"

# (phase, text, user, database, error code or None): what each workload leaves, in order.
EXPECTED = [
    (1, "SELECT 'phase one' AS marker", "postgres", "postgres", None),
    (1, MULTI_LINE, "postgres", "postgres", None),
    (1, QUOTED_NEWLINE, "postgres", "postgres", None),
    (1, "SELECT $1::text AS secret_param, $2::int AS n", "postgres", "postgres", None),
    (1, "SELECT $1::text AS prepared_param", "postgres", "postgres", None),
    (1, "SELECT $1::text AS prepared_param", "postgres", "postgres", None),
    (1, "SELECT * FROM no_such_table", "postgres", "postgres", "42P01"),
    (1, "SELECT length($1::text) / 0 AS boom", "postgres", "postgres", "22012"),
    (1, "SELEC 1", "postgres", "postgres", "42601"),
    (1, TRICKY, "postgres", "postgres", None),
    (2, "SELECT current_user AS who, current_database() AS db", ANALYST, SALES, None),
    (2, "SELECT 'phase two' AS marker", "postgres", "postgres", None),
    (3, "SELECT 'phase three' AS marker", "postgres", "postgres", None),
    (3, LAST, "postgres", "postgres", None),
]
FAILING = {row[1] for row in EXPECTED if row[4]}


@dataclass
class Logged:
    """A server that ran the workload, and what the client saw."""

    logging: LoggingServer
    pids: set[int] = field(default_factory=set)
    # phase -> (UTC before, UTC after)
    phases: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)
    gzipped: list[Path] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.logging.log_dir

    def read(self, log_format: str, start: datetime | None = None, end: datetime | None = None, **kwargs):
        now = datetime.now(timezone.utc)
        return list(read_log_files(self.log_dir, log_format, self.logging.line_prefix, start or now - WIDE,
                                   end or now + WIDE, **kwargs))

    def ours(self, statements):
        """The workload's statements (the harness's own are left out)."""
        return [s for s in statements if _pid(s.session) in self.pids]


def _pid(session: str | None) -> int | None:
    if session is None:
        return None
    return int(session.split(".")[1], 16) if "." in session else int(session)


def _run_workload(logged: Logged) -> None:
    server = logged.logging.server
    server.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ANALYST),
                                                                       sql.Literal(server.password)))
    server.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(SALES), sql.Identifier(ANALYST)))

    def connect(user=None, dbname="postgres"):
        password = server.password if user else None
        conn = psycopg.connect(server.dsn(dbname, user, password), autocommit=True, application_name=APP)
        logged.pids.add(conn.info.backend_pid)
        return conn

    def simple(conn, text):  # the simple query protocol, text exactly as given
        result = conn.pgconn.exec_(text.encode())
        if result.status not in (psycopg.pq.ExecStatus.TUPLES_OK, psycopg.pq.ExecStatus.COMMAND_OK):
            return result.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
        return None

    begin = datetime.now(timezone.utc)
    with connect() as conn:
        simple(conn, "SELECT 'phase one' AS marker")
        simple(conn, MULTI_LINE)
        simple(conn, QUOTED_NEWLINE)
        conn.execute("SELECT %s::text AS secret_param, %s::int AS n", [f"{SECRET}-unnamed\nsecond line", 42])
        for _ in range(2):
            conn.execute("SELECT %s::text AS prepared_param", [f"{SECRET}-prepared"], prepare=True)
        assert simple(conn, "SELECT * FROM no_such_table") == b"42P01"
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT length(%s::text) / 0 AS boom", [f"{SECRET}-error"])
        assert simple(conn, "SELEC 1") == b"42601"
        simple(conn, TRICKY)
    logged.phases[1] = (begin, datetime.now(timezone.utc))
    first_files = logged.logging.current_files()

    next_second()
    logged.logging.rotate()
    next_second()
    begin = datetime.now(timezone.utc)
    with connect(ANALYST, SALES) as conn:
        simple(conn, "SELECT current_user AS who, current_database() AS db")
    with connect() as conn:
        simple(conn, "SELECT 'phase two' AS marker")
    logged.phases[2] = (begin, datetime.now(timezone.utc))

    next_second()
    begin = datetime.now(timezone.utc)
    with connect() as conn:
        simple(conn, "SELECT 'phase three' AS marker")
        simple(conn, LAST)
    logged.phases[3] = (begin, datetime.now(timezone.utc))
    logged.gzipped = logged.logging.gzip(first_files)


def _start(name: str, prefix: str, zone: str, **settings) -> Logged:
    logged = Logged(start_logging_server(name, prefix, zone, **settings))
    try:
        _run_workload(logged)
    except BaseException:
        logged.logging.stop()
        raise
    return logged


CONFIGS = {
    "pg18": dict(prefix=PG18_PREFIX, zone="Asia/Kolkata", log_min_duration_statement="0",
                 log_parameter_max_length_on_error="-1"),
    "pg17": dict(prefix=PG18_PREFIX, zone="UTC", log_min_duration_statement="0",
                 log_parameter_max_length_on_error="-1"),
    "pg15": dict(prefix=RDS_PREFIX, zone="America/New_York", log_statement="all", log_min_duration_statement="0",
                 log_parameter_max_length_on_error="-1"),
    "pg14": dict(prefix=RDS_PREFIX, zone="America/New_York", destinations="stderr,csvlog", log_statement="all",
                 log_min_duration_statement="0", log_parameter_max_length_on_error="-1"),
    "pg13": dict(prefix=PG18_PREFIX, zone="UTC", destinations="stderr,csvlog", log_min_duration_statement="0",
                 log_parameter_max_length_on_error="-1"),
    "pg16": dict(prefix=EVERY_ESCAPE_PREFIX, zone="Asia/Dubai", destinations="stderr", log_statement="all",
                 log_duration="on", log_error_verbosity="verbose"),
}


def formats(name: str) -> tuple[str, ...]:
    """The log formats server ``name`` writes."""
    return tuple(CONFIGS[name].get("destinations", ",".join(FORMATS)).split(","))


# Every server but pg16 (stderr only, for its prefix of every escape) writes the formats it has.
FULL = [name for name in CONFIGS if name != "pg16"]
FULL_FORMATS = [(name, log_format) for name in FULL for log_format in formats(name)]


@pytest.fixture(scope="module")
def servers():
    """The servers, started and run in parallel; an unavailable one is None."""
    results: dict[str, Logged | Exception] = {}

    def run(name):
        config = dict(CONFIGS[name])
        try:
            results[name] = _start(name, config.pop("prefix"), config.pop("zone"), **config)
        except Exception as exc:  # noqa: BLE001 - reported by the tests that need this server
            results[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in CONFIGS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    yield results
    for result in results.values():
        if isinstance(result, Logged):
            result.logging.stop()


def _server(servers, name) -> Logged:
    result = servers[name]
    if isinstance(result, ServerUnavailable):
        pytest.skip(f"{name} unavailable: {result}")
    if isinstance(result, Exception):
        raise result
    return result


@pytest.fixture
def scratch():
    with tempfile.TemporaryDirectory(prefix="kada-querylog-") as path:
        yield Path(path)


def _zone_kwargs(name):
    return {"log_timezone": CONFIGS[name]["zone"]} if name == "pg18" else {}


def _by_phase(ours):
    """The workload's statements by phase (they are in EXPECTED's order)."""
    phases: dict[int, list] = {1: [], 2: [], 3: []}
    for statement, row in zip(ours, EXPECTED, strict=True):
        phases[row[0]].append(statement)
    return phases


def _expected(name, log_format):
    rows = []
    for phase, text, user, database, code in EXPECTED:
        if code is not None and log_format == "stderr" and "%e" not in CONFIGS[name]["prefix"]:
            code = None  # the RDS prefix has no SQLSTATE
        rows.append((phase, text, user, database, code))
    return rows


# -- log files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "log_format"), FULL_FORMATS)
def test_statements_read_back_exactly(servers, name, log_format):
    logged = _server(servers, name)
    assert any(path.name.endswith(".gz") for path in logged.gzipped)
    found = logged.ours(logged.read(log_format, **_zone_kwargs(name)))
    expected = _expected(name, log_format)
    assert [(s.text, s.user, s.database, s.error_code) for s in found] == [row[1:] for row in expected]
    for statement, (phase, *_), in zip(found, expected, strict=True):
        before, after = logged.phases[phase]
        # the log's own clock, in its own zone, read back as UTC (%t has whole seconds)
        assert before - timedelta(seconds=1) <= statement.time <= after + timedelta(seconds=1), statement
        assert statement.time.tzinfo == timezone.utc
        assert statement.source == "log_file"
        if statement.text in FAILING:
            assert statement.duration_ms is None, statement
        else:
            assert statement.duration_ms is not None and statement.duration_ms >= 0, statement
    has_application = log_format != "stderr" or "%a" in CONFIGS[name]["prefix"]
    assert {s.application for s in found} == ({APP} if has_application else {None})
    assert len({s.session for s in found}) == 4  # one per connection


@pytest.mark.parametrize("name", FULL)
def test_formats_agree(servers, name):
    """The same messages went to every destination: the same statements come back."""
    logged = _server(servers, name)
    by_format = {f: logged.ours(logged.read(f, **_zone_kwargs(name))) for f in formats(name)}
    assert by_format["csvlog"] == by_format.get("jsonlog", by_format["csvlog"])
    stderr = by_format["stderr"]
    assert [(s.text, s.duration_ms) for s in stderr] == [(s.text, s.duration_ms) for s in by_format["csvlog"]]
    if "%m" in CONFIGS[name]["prefix"]:
        assert [s.time for s in stderr] == [s.time for s in by_format["csvlog"]]
        assert [s.session for s in stderr] == [s.session for s in by_format["csvlog"]]  # %c is the session id
    else:  # %t: whole seconds
        assert [s.time for s in stderr] == [s.time.replace(microsecond=0) for s in by_format["csvlog"]]


@pytest.mark.parametrize(("name", "log_format"), FULL_FORMATS + [("pg16", "stderr")])
def test_parameters_never_appear(servers, name, log_format):
    logged = _server(servers, name)
    everything = logged.read(log_format, **_zone_kwargs(name))
    assert everything
    assert not [s for s in everything if SECRET in s.text or "Parameters:" in s.text or "parameters:" in s.text]
    # ... while the server did log them
    raw = b"".join(gzip.open(p).read() if p.name.endswith(".gz") else p.read_bytes()
                   for p in logged.log_dir.iterdir())
    assert SECRET.encode() in raw


@pytest.mark.parametrize(("name", "log_format"), FULL_FORMATS)
def test_window_is_exact(servers, name, log_format):
    """start <= time < end: phase two only; the statement just before start and the one at end are out."""
    logged = _server(servers, name)
    kwargs = _zone_kwargs(name)
    everything = logged.read(log_format, **kwargs)
    phases = _by_phase(logged.ours(everything))
    start, end = phases[2][0].time, phases[3][0].time
    window = logged.read(log_format, start, end, **kwargs)
    assert window == [s for s in everything if start <= s.time < end]
    assert [s.text for s in logged.ours(window)] == [row[1] for row in EXPECTED if row[0] == 2]
    just_before, at_end = phases[1][-1], phases[3][0]
    assert just_before.time < start and at_end.time == end
    assert just_before not in window and at_end not in window
    # windows outside the logs, and an empty one
    assert logged.read(log_format, end + WIDE, end + 2 * WIDE, **kwargs) == []
    assert logged.read(log_format, start, start, **kwargs) == []


def test_every_prefix_escape(servers):
    logged = _server(servers, "pg16")
    everything = logged.read("stderr")
    ours = logged.ours(everything)
    expected = _expected("pg16", "stderr")
    assert [(s.text, s.user, s.database, s.error_code) for s in ours] == [row[1:] for row in expected]
    assert {s.application for s in ours} == {APP}
    assert all(re.fullmatch(r"[0-9a-f]+\.[0-9a-f]+", s.session) for s in ours)  # %c wins over %p
    for statement, (phase, *_), in zip(ours, expected, strict=True):
        before, after = logged.phases[phase]
        assert before - timedelta(seconds=1) <= statement.time <= after + timedelta(seconds=1), statement
    # log_statement + log_duration: each successful statement got the duration line that followed it
    assert all((s.duration_ms is None) == (s.error_code is not None) for s in ours)


def test_ambiguous_zone_needs_log_timezone(servers):
    logged = _server(servers, "pg18")
    with pytest.raises(LogReadError, match=r"'IST' is ambiguous.*log_timezone"):
        logged.read("csvlog")
    with pytest.raises(LogReadError, match="not a time zone"):
        logged.read("csvlog", log_timezone="Mars/Olympus_Mons")
    with pytest.raises(LogReadError, match=r"'IST' is not one log_timezone 'Europe/Paris' uses"):
        logged.read("stderr", log_timezone="Europe/Paris")


def test_incomplete_last_entries_wait_for_the_next_run(servers, scratch):
    """Files cut where the server was still writing: the cut entry is not read, nor any error raised."""
    logged = _server(servers, "pg18")
    kwargs = _zone_kwargs("pg18")
    copy = scratch / "logs"
    shutil.copytree(logged.log_dir, copy)
    for log_format, suffix, cut_after in (("stderr", ".log", b"'the last "), ("csvlog", ".csv", b"'the last one',\n"),
                                          ("jsonlog", ".json", b"'the last one',")):
        newest = max((p for p in copy.iterdir() if p.name.endswith(suffix)), key=lambda p: p.name)
        data = newest.read_bytes()
        newest.write_bytes(data[:data.index(cut_after) + len(cut_after)])
        full = logged.ours(logged.read(log_format, **kwargs))
        now = datetime.now(timezone.utc)
        cut = logged.ours(list(read_log_files(copy, log_format, PG18_PREFIX, now - WIDE, now + WIDE, **kwargs)))
        assert full[-1].text == LAST
        assert cut == full[:-1], log_format


def test_one_file_and_skipped_files(servers, scratch):
    logged = _server(servers, "pg15")
    now = datetime.now(timezone.utc)
    # one gzipped file on its own
    gz = next(p for p in logged.gzipped if p.name.endswith(".csv.gz"))
    one = logged.ours(list(read_log_files(gz, "csvlog", None, now - WIDE, now + WIDE)))
    assert [s.text for s in one] == [row[1] for row in EXPECTED if row[0] == 1]
    # a broken file last written long before the window is not even opened
    copy = scratch / "logs"
    shutil.copytree(logged.log_dir, copy)
    broken = copy / "postgresql-20200101_000000.csv.gz"
    broken.write_bytes(b"not gzip at all\n")
    os.utime(broken, (time.time() - 86400, time.time() - 86400))
    start = logged.phases[1][0] - timedelta(minutes=1)
    assert len(list(read_log_files(copy, "csvlog", None, start, now + WIDE))) == len(logged.read("csvlog"))
    with pytest.raises(LogReadError, match=r"postgresql-20200101_000000\.csv\.gz is not a valid gzip file"):
        list(read_log_files(copy, "csvlog", None, start - timedelta(days=2), now + WIDE))
    # a file that is not a log among the logs is skipped
    (copy / "notes.txt").write_text("not a log line\n")
    broken.unlink()
    assert list(read_log_files(copy, "stderr", RDS_PREFIX, start, now + WIDE)) == logged.read("stderr")


def test_configuration_errors(servers, scratch):
    logged = _server(servers, "pg15")
    now = datetime.now(timezone.utc)

    def read(path, log_format="stderr", prefix=RDS_PREFIX):
        return list(read_log_files(path, log_format, prefix, now - WIDE, now))

    with pytest.raises(LogReadError, match=r"does not exist.*log_directory"):
        read(scratch / "missing")
    with pytest.raises(LogReadError, match=r"no jsonlog files .* in .*log_destination includes jsonlog"):
        read(scratch, "jsonlog")
    with pytest.raises(LogReadError, match=r"no file in .* holds stderr lines with log_line_prefix '%m \[%p\] '"):
        read(logged.log_dir, prefix="%m [%p] ")
    with pytest.raises(LogReadError, match="writes no time"):
        read(logged.log_dir, prefix="%u@%d ")
    with pytest.raises(LogReadError, match="needs the server's log_line_prefix"):
        read(logged.log_dir, prefix=None)
    with pytest.raises(LogReadError, match="not one of"):
        read(logged.log_dir, "syslog")
    with pytest.raises(ValueError, match="timezone-aware"):
        read_log_files(logged.log_dir, "csvlog", None, datetime(2026, 1, 1), now)


# -- CloudWatch Logs ---------------------------------------------------------------------------------


GROUP = "/aws/rds/instance/shop-db/postgresql"
REGION = "eu-west-1"
_STDERR_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ([A-Z]+):")


@pytest.fixture(scope="module")
def cloudwatch(servers, module_aws_env):
    """moto's server holding the pg15 stderr log (RDS's prefix) as an RDS instance exports it."""
    from landing_servers import MotoServer

    logged = _server(servers, "pg15")
    moto = MotoServer()
    try:
        logs = moto.client("logs")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="shop-db")
        events = _export_events(logged.log_dir)
        for first in range(0, len(events), 1000):
            logs.put_log_events(logGroupName=GROUP, logStreamName="shop-db", logEvents=events[first:first + 1000])
        yield moto
    finally:
        moto.stop()


def _export_events(log_dir: Path) -> list[dict]:
    """The stderr lines as CloudWatch events: one event per message (a line and its continuation
    lines) for half the messages, one per line for the other half; timestamps from the lines."""
    zone = ZoneInfo(CONFIGS["pg15"]["zone"])
    messages: list[list[str]] = []
    for path in sorted(p for p in log_dir.iterdir() if ".log" in p.name):
        text = (gzip.open(path).read() if path.name.endswith(".gz") else path.read_bytes()).decode()
        for line in text.splitlines():
            if line.startswith("\t") and messages:
                messages[-1].append(line)
            else:
                messages.append([line])
    events = []
    for number, lines in enumerate(messages):
        local, abbreviation = _STDERR_TIME.match(lines[0]).groups()
        naive = datetime.fromisoformat(local)
        fold = 0 if naive.replace(tzinfo=zone).tzname() == abbreviation else 1
        stamp = int(naive.replace(tzinfo=zone, fold=fold).timestamp() * 1000)
        if number % 2:
            events.extend({"timestamp": stamp, "message": line} for line in lines)
        else:
            events.append({"timestamp": stamp, "message": "\n".join(lines)})
    events.sort(key=lambda event: event["timestamp"])  # stable: a message's lines stay together
    return events


def test_cloudwatch_reads_what_the_files_say(servers, cloudwatch):
    logged = _server(servers, "pg15")
    now = datetime.now(timezone.utc)
    from_files = logged.read("stderr")
    read = list(read_cloudwatch(GROUP, REGION, cloudwatch.url, RDS_PREFIX, now - WIDE, now + WIDE, page_size=7))
    assert {s.source for s in read} == {"cloudwatch"}
    assert [replace(s, source="log_file") for s in read] == from_files
    assert [(s.text, s.user, s.database) for s in logged.ours(read)] == [row[1:4] for row in EXPECTED]
    assert not [s for s in read if SECRET in s.text]
    # the window, as for files; the default prefix is RDS's
    phases = _by_phase(logged.ours(read))
    start, end = phases[2][0].time, phases[3][0].time
    window = list(read_cloudwatch(GROUP, REGION, cloudwatch.url, None, start, end))
    assert window == [s for s in read if start <= s.time < end]
    assert [s.text for s in logged.ours(window)] == [row[1] for row in EXPECTED if row[0] == 2]


def test_cloudwatch_errors(cloudwatch):
    from landing_servers import MotoServer, free_port

    now = datetime.now(timezone.utc)

    def read(group=GROUP, url=cloudwatch.url):
        return list(read_cloudwatch(group, REGION, url, None, now - WIDE, now))

    with pytest.raises(LogReadError, match=r"group /aws/rds/instance/nope/postgresql in eu-west-1 does not exist"):
        read("/aws/rds/instance/nope/postgresql")
    with pytest.raises(LogReadError, match=r"cannot reach CloudWatch Logs at http://127\.0\.0\.1:\d+"):
        read(url=f"http://127.0.0.1:{free_port()}")
    guarded = MotoServer()  # a server of its own: checking credentials is for the whole server
    try:
        guarded.enforce_auth()
        with pytest.raises(LogReadError, match=r"access denied \(InvalidClientTokenId.*logs:FilterLogEvents") as error:
            read(url=guarded.url)
        assert SECRET_KEY not in str(error.value)
    finally:
        guarded.stop()
