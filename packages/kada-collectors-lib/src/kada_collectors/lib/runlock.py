"""One run at a time per output folder and per snapshot file.

Each is guarded by an operating-system lock (``filelock``: flock on Unix, LockFileEx on Windows)
on a lock file of its own: ``.kada-collector.lock`` in the output folder (which the collector
may write to, whereas the folder above it may not be its own), ``<snapshot file>.lock`` beside the
snapshot file. The system releases the lock when the process ends, however it ends,
so a killed run never leaves a stale lock behind. The holder writes its PID, host and start time
into ``<lock file>.holder`` so that a refused run can name it. Both files stay between runs: they
are empty of data and safe to delete when no run is going.
"""

import contextlib
import json
import os
import socket
import time
from typing import Iterator, Optional

from filelock import FileLock, Timeout

from .errors import CollectorError, RunInProgress
from .hwm import now_hwm

OUTPUT_LOCK_NAME = ".kada-collector.lock"
HOLDER_SUFFIX = ".holder"
# A refused run waits this long for a holder that has just taken the lock to write its name.
HOLDER_WAIT_SECONDS = 2.0


def output_lock_path(folder: str) -> str:
    """In the folder: pushing and validating a run look only at its manifest's files and the
    writer's temporaries, so a hidden lock file there is nobody's business but the runs'."""
    return os.path.join(os.path.abspath(folder), OUTPUT_LOCK_NAME)


def snapshot_lock_path(snapshot_path: str) -> str:
    return f"{snapshot_path}.lock"


@contextlib.contextmanager
def run_lock(output: str, snapshot_path: str) -> Iterator[None]:
    """Hold the output folder's lock and the snapshot file's for the body, or raise ``RunInProgress``
    (having changed nothing) when another run holds either."""
    with contextlib.ExitStack() as held:
        held.enter_context(_locked(output_lock_path(output), f"the output folder {output}"))
        held.enter_context(_locked(snapshot_lock_path(snapshot_path), f"the snapshot file {snapshot_path}"))
        yield


@contextlib.contextmanager
def _locked(path: str, what: str) -> Iterator[None]:
    lock = FileLock(path, timeout=0)
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        lock.acquire()
    except Timeout:
        raise RunInProgress(
            f"another run is using {what}: {_describe(read_holder(path))} (lock file {path}). This run did "
            "nothing and published no HWM; the next scheduled run continues from the last published one. "
            "If this repeats, look for two schedules of one config, or a run that takes longer than its "
            "interval.") from None
    except OSError as e:
        raise CollectorError(f"cannot lock {what} ({path}): {e.strerror or e}. Fix the folder's permissions, "
                             "or choose another folder") from None
    try:
        _write_holder(path)
        yield
    finally:
        with contextlib.suppress(OSError):  # on a full disk the holder may not have been written
            os.unlink(path + HOLDER_SUFFIX)
        lock.release()


def _write_holder(path: str) -> None:
    """Our PID, host and start time, in one write (a reader sees all of it or nothing)."""
    holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": now_hwm()})
    try:
        fd = os.open(path + HOLDER_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, holder.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass  # the lock holds without it; a refused run then names no PID


def read_holder(path: str, wait: float = HOLDER_WAIT_SECONDS) -> Optional[dict]:
    """The holder of lock file ``path`` as it wrote itself, or None. A holder that took the lock an
    instant ago may not have written it yet (or the file may be a killed run's): wait a little."""
    deadline = time.monotonic() + wait
    while True:
        holder = _holder(path)
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)


def _holder(path: str) -> Optional[dict]:
    try:
        with open(path + HOLDER_SUFFIX, encoding="utf-8") as f:
            holder = json.load(f)
        pid = int(holder["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if holder.get("host") == socket.gethostname() and not _alive(pid):
        return None  # a killed run's: the live holder has not written its own yet
    return holder


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill would end the process there, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True


def _describe(holder: Optional[dict]) -> str:
    if holder is None:
        return "a process that did not say which (its PID is unknown)"
    return f"PID {holder['pid']} on {holder.get('host', '?')}, started {holder.get('started_at', '?')} UTC"
