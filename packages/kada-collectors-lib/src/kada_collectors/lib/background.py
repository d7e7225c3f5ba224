"""Work handed to a thread of its own, one piece at a time.

zlib and SQLite release the GIL while they work, so compressing a chunk or inserting a batch of
snapshot rows on a thread overlaps with reading the next rows from the server instead of adding
to the run. At most one piece is in flight: memory stays bounded by one piece.
"""

from concurrent.futures import ThreadPoolExecutor


class OneInFlight:
    def __init__(self, name):
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._in_flight = None

    def submit(self, function, *args):
        """Run ``function(*args)`` on the thread, once the previous piece is done (its error raised here)."""
        self.wait()
        self._in_flight = self._worker.submit(function, *args)

    def wait(self):
        """Wait for the piece in flight; raise its error, if any."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def finish(self):
        """Wait for the piece in flight, then stop the thread (also when that piece failed)."""
        try:
            self.wait()
        finally:
            self._worker.shutdown()
