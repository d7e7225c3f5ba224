"""Two runs never collide, and faults leave nothing behind: real processes, a real server, real
signals and a real small filesystem."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from collect import extractor_config, read_extract
from conftest import SAMPLE_SCHEMA
from kada_collectors.extractors.postgres import Extractor
from kada_collectors.lib.errors import RunInProgress
from kada_collectors.lib.hwm import now_hwm
from kada_collectors.lib.runlock import run_lock

DB = "runsafety"
BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).parents[1] / "examples"
# The table the sample's views read: locked, it holds a run inside its extraction for as long as wanted.
LOCKED_TABLE = "sales.customers"
WAITING_RUNS_SQL = ("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%' "
                    "AND wait_event_type = 'Lock'")
EXIT_RUN_IN_PROGRESS, EXIT_INTERRUPTED = 6, 143
TEMPORARY = re.compile(r"^\..*\.(tmp|part)$")


@pytest.fixture(scope="module")
def server(pg18):
    pg18.create_database(DB)
    pg18.run_sql_file(SAMPLE_SCHEMA, DB)
    yield pg18
    pg18.drop_database(DB)


@pytest.fixture
def job(server, tmp_path):
    """A customer's folder: the config (a run waits up to ``lock_timeout_seconds`` behind a lock)."""
    return Job(server, tmp_path)


class Job:
    def __init__(self, server, folder, lock_timeout=60, **config):
        self.server, self.folder, self.output = server, folder, folder / "out"
        folder.mkdir(parents=True, exist_ok=True)
        self.config = extractor_config(server, [DB], self.output, lock_timeout_seconds=lock_timeout, **config)
        self.config_path = folder / "kada_postgres_extractor_config.json"
        self.save()

    def save(self):
        self.config_path.write_text(json.dumps(self.config, indent=2))

    @property
    def hwm(self):
        path = self.folder / "postgres_hwm.txt"
        return path.read_text().strip() if path.exists() else None

    def start(self, wrapper=False):
        command = ([sys.executable, str(EXAMPLES / "kada_postgres_extractor.py")] if wrapper
                   else [str(BIN / "kada-postgres-extractor")])
        return subprocess.Popen([*command, "--config", str(self.config_path)], cwd=self.folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, wrapper=False):
        process = self.start(wrapper)
        _, stderr = process.communicate(timeout=180)
        return process.returncode, stderr

    def temporaries(self, folder=None):
        return sorted(p.name for p in (folder or self.output).iterdir() if TEMPORARY.match(p.name))

    def manifests(self):
        return sorted(self.output.glob("postgres_manifest_*.json"))

    def events(self):
        """The event rows of the newest run."""
        manifest = json.loads(self.manifests()[-1].read_text())
        entry = next(f for f in manifest["files"] if f["extract"] == "events")
        return read_extract(self.output / entry["name"])


@contextmanager
def blocked(server):
    """An ACCESS EXCLUSIVE lock on a table the views read: a run waits inside its extraction."""
    with psycopg.connect(server.dsn(DB)) as conn:
        conn.execute(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def wait_until(condition, timeout=60.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def waiting_runs(server):
    (count,) = server.execute(WAITING_RUNS_SQL, DB)[0]
    return count


def wait_mid_extraction(job, process):
    """Until ``process`` waits on the server with its temporary files written."""
    wait_until(lambda: process.poll() is not None or (waiting_runs(job.server) and job.temporaries()),
               what="the run to be waiting mid-extraction")
    assert process.poll() is None, process.communicate()


@pytest.mark.slow  # about 60 s on 2 cores: forty runs
def test_twenty_simultaneous_pairs_one_runs_the_other_is_refused(job):
    code, stderr = job.run()
    assert code == 0, stderr
    for pair in range(20):
        hwm, manifests = job.hwm, len(job.manifests())
        # Each window ends in a second of its own: files and manifests are named by that second.
        wait_until(lambda: now_hwm() > hwm, what="the next second")
        with blocked(job.server):
            runs = [job.start(), job.start()]
            wait_until(lambda: any(r.poll() is not None for r in runs), what=f"pair {pair}: a run to be refused")
            refused = next(r for r in runs if r.poll() is not None)
            holder = next(r for r in runs if r is not refused)
            _, stderr = refused.communicate()
            assert refused.returncode == EXIT_RUN_IN_PROGRESS, stderr
            assert f"another run is using the output folder {job.output}: PID {holder.pid} " in stderr, stderr
            assert "Traceback" not in stderr and job.hwm == hwm and len(job.manifests()) == manifests
            assert holder.poll() is None  # still waiting behind the lock
        _, stderr = holder.communicate(timeout=120)
        assert holder.returncode == 0, stderr
        assert len(job.manifests()) == manifests + 1 and job.hwm != hwm
        assert job.temporaries() == []
    # Nothing changed in the database: the next run has nothing to report.
    code, stderr = job.run()
    assert code == 0, stderr
    assert job.events() == [] and "no change-event snapshot" not in stderr


def test_the_wrapper_refused_publishes_no_hwm(job):
    code, stderr = job.run()
    assert code == 0, stderr
    hwm = job.hwm
    with blocked(job.server):
        holder = job.start()
        wait_mid_extraction(job, holder)
        code, stderr = job.run(wrapper=True)
        assert code != 0 and f"PID {holder.pid}" in stderr, stderr
        assert job.hwm == hwm
    holder.communicate(timeout=120)
    assert holder.returncode == 0


def test_a_refused_run_changes_nothing(job):
    """In one process too: the folder and the snapshot file are as they were, and the holder named."""
    code, stderr = job.run()
    assert code == 0, stderr
    config, snapshots = job.config, Path(job.config["snapshot_path"])

    def state():
        return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in job.output.iterdir()), \
            snapshots.read_bytes()

    with run_lock(config["output_path"], config["snapshot_path"]):
        before = state()
        with pytest.raises(RunInProgress, match=f"PID {os.getpid()} on .*, started .* UTC"):
            Extractor(**config).run()
        assert state() == before
    Extractor(**config).run()  # released on leaving


def test_kada_collector_run_refused_exits_6_and_pushes_nothing(job, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    job.config["landing"] = {"type": "local", "path": str(landing)}
    job.save()
    with run_lock(job.config["output_path"], job.config["snapshot_path"]):
        result = subprocess.run([str(BIN / "kada-collector"), "run", "--config", str(job.config_path)],
                                cwd=job.folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_RUN_IN_PROGRESS, result.stdout + result.stderr
    assert "failed at the extraction (exit 6)" in result.stdout and f"PID {os.getpid()}" in result.stderr
    assert f"PID {os.getpid()}" not in result.stdout, "the error is printed once, on stderr"
    assert list(landing.iterdir()) == [] and job.hwm is None


def test_another_output_folder_on_the_same_snapshot_file_is_refused(job, tmp_path):
    other = Job(job.server, tmp_path / "other")
    other.config["snapshot_path"] = job.config["snapshot_path"]
    other.save()
    with run_lock(str(tmp_path / "elsewhere"), job.config["snapshot_path"]):
        with pytest.raises(RunInProgress, match="another run is using the snapshot file"):
            Extractor(**other.config).run()


def test_run_puts_the_callers_sigterm_handler_back(job):
    def callers(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, callers)
    try:
        Extractor(**job.config).run()
        assert signal.getsignal(signal.SIGTERM) is callers
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_ends_the_run_cleanly(job):
    code, stderr = job.run()
    assert code == 0, stderr
    hwm, manifests = job.hwm, job.manifests()
    job.config["lock_timeout_seconds"] = 3  # the statement waiting on the server ends by then
    job.save()
    with blocked(job.server):
        process = job.start()
        wait_mid_extraction(job, process)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        seconds = time.monotonic() - started
    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    assert seconds < 15
    assert job.temporaries() == [] and job.manifests() == manifests and job.hwm == hwm


def test_after_sigkill_the_next_run_removes_what_the_dead_run_left(job):
    code, stderr = job.run()
    assert code == 0, stderr
    hwm = job.hwm
    # Hidden files of other kinds (another source, another program) are not the collector's to remove.
    others = [".notes.tmp", ".mysql_metadata_20260101000000.csv.db0.part", ".postgres_hwm.x1y2.tmp"]
    for name in others:
        (job.output / name).write_text("keep")
    with blocked(job.server):
        process = job.start()
        wait_mid_extraction(job, process)
        process.kill()
        process.communicate()
    left = [name for name in job.temporaries() if name not in others]
    assert left and job.hwm == hwm
    code, stderr = job.run()
    assert code == 0, stderr
    assert f"removed {len(left)} temporary file(s)" in stderr
    assert job.temporaries() == sorted(others)
    assert job.events() == []  # the dead run's snapshot was never complete: no spurious events
    assert job.hwm != hwm


# -- a full disk: a real small filesystem ---------------------------------------------------------

@contextmanager
def tmpfs(path, size="2m"):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill ({mounted.stderr.strip() or 'mount failed'}): needs root "
                    "or CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder, leave):
    """A ballast file that leaves about ``leave`` bytes free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / "ballast").write_bytes(b"\0" * max(free - leave, 0))


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gzip"])
def test_a_full_output_disk_is_a_clear_error_and_leaves_nothing(job, compress):
    job.config["compress"] = compress
    job.save()
    with tmpfs(job.output):
        fill(job.output, leave=(4 if compress else 64) * 1024)  # less than the run's files need
        code, stderr = job.run()
        assert code == 1, stderr
        assert re.search(rf"the disk of the output folder {re.escape(str(job.output))} is full: the run had "
                         r"written [\d,]+ bytes there", stderr), stderr
        assert "Traceback" not in stderr
        assert job.temporaries() == [] and job.manifests() == [] and job.hwm is None
        (job.output / "ballast").unlink()
        code, stderr = job.run()  # with room again, the next run succeeds from the same start
        assert code == 0, stderr


def test_a_full_snapshot_disk_is_a_clear_error_and_leaves_nothing(job, tmp_path):
    snapshots = tmp_path / "snapshots"
    with tmpfs(snapshots):
        job.config["snapshot_path"] = str(snapshots / "kada.sqlite")
        job.save()
        code, stderr = job.run()
        assert code == 0, stderr
        hwm, manifests = job.hwm, job.manifests()
        fill(snapshots, leave=8 * 1024)
        code, stderr = job.run()
        assert code == 1, stderr
        assert f"the disk of the snapshot file {snapshots / 'kada.sqlite'} is full" in stderr, stderr
        assert "Traceback" not in stderr
        assert job.temporaries() == [] and job.manifests() == manifests and job.hwm == hwm
        (snapshots / "ballast").unlink()
        code, stderr = job.run()
        assert code == 0, stderr
        assert job.events() == []
