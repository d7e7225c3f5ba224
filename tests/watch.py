"""The most a counting query returned while a run went on, polled from a session of its own."""

import threading

import psycopg

# The collector's sessions, and the relation locks they hold (application_name kada-collector/<version>).
SESSIONS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kada-collector/%'"
RELATION_LOCKS_SQL = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                      "WHERE a.application_name LIKE 'kada-collector/%' AND l.locktype = 'relation'")


class PeakCount(threading.Thread):
    """``with PeakCount(server, query) as peak: ...``, then ``peak.most``."""

    def __init__(self, server, query, interval=0.003):
        super().__init__(daemon=True)
        self.server, self.query, self.interval = server, query, interval
        self.most, self._done = 0, threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self.join()

    def run(self):
        with psycopg.connect(self.server.dsn(), autocommit=True) as conn:
            while not self._done.is_set():
                (count,) = conn.execute(self.query).fetchone()
                self.most = max(self.most, count)
                self._done.wait(self.interval)
