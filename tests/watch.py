"""The most a counting query returned while a run went on, polled from a session of its own."""

import threading

import psycopg

# The collector's sessions, and the relation locks they hold (application_name kada-collector/<version>).
SESSIONS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%'"
RELATION_LOCKS_SQL = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                      "WHERE a.application_name LIKE 'kada-collector/%' AND l.locktype = 'relation'")


class Alongside(threading.Thread):
    """A thread that works while a ``with`` block runs, until ``_done`` is set at its end."""

    def __init__(self):
        super().__init__(daemon=True)
        self._done = threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self.join()


class PeakCount(Alongside):
    """``with PeakCount(server, query) as peak: ...``, then ``peak.most``."""

    def __init__(self, server, query, interval=0.003):
        super().__init__()
        self.server, self.query, self.interval = server, query, interval
        self.most = 0

    def run(self):
        with psycopg.connect(self.server.dsn(), autocommit=True) as conn:
            while not self._done.is_set():
                (count,) = conn.execute(self.query).fetchone()
                self.most = max(self.most, count)
                self._done.wait(self.interval)
