"""SIGTERM during a run: an exception, so that the run's clean-up removes what it had written.

Schedulers (cron's kill, systemd, Kubernetes, Airflow) stop a job with SIGTERM. Python's default
for it ends the process at once, leaving the run's hidden temporary files behind; raised as
``RunInterrupted`` instead, it unwinds the run like any failure (files discarded, no HWM).
"""

import contextlib
import signal
import threading
from typing import Iterator

from .errors import RunInterrupted


@contextlib.contextmanager
def sigterm_raises(what: str = "the run") -> Iterator[None]:
    """While in the body, SIGTERM raises ``RunInterrupted`` in the main thread; the previous handler
    is restored afterwards. Elsewhere than in the main thread (where Python allows no handler), or
    when SIGTERM is ignored on purpose, it does nothing: the caller's own handling stands."""
    if (threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM")
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN):
        yield
        return

    def interrupted(signum, frame):
        # Once: a second SIGTERM while cleaning up must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise RunInterrupted(f"{what} was stopped by SIGTERM: what it had written was removed and the HWM was "
                             "not published; the next run repeats the window")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        # None: a handler installed other than from Python, which cannot be put back; the default.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
