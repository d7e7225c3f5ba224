"""The progress of a job on a terminal: its steps, and each file as it uploads."""

import logging
import sys
import time
from typing import Optional, TextIO

from kada_collectors.lib.landing import ALREADY_LANDED, FAILED, LANDED
from kada_collectors.lib.landing.push import FileOutcome

log = logging.getLogger("kada_collectors.cli")  # the name the commands' log lines have always had


class Progress:
    """One self-rewriting status line on stderr while files upload; silent unless stderr is a TTY."""

    def __init__(self, stream: Optional[TextIO] = None, enabled: Optional[bool] = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._line, self._file, self._label, self._sent, self._last = "", None, "", 0, 0.0

    def step(self, text: str) -> None:
        """A step of the job, on a line of its own (log lines may follow it)."""
        if self.enabled:
            self.close()
            self.stream.write(f"==> {text}\n")
            self.stream.flush()

    def on_file(self, index: int, total: int, outcome: FileOutcome) -> None:
        if outcome.status in (LANDED, ALREADY_LANDED, FAILED):
            self.close()  # the log line replaces the status line
            log.log(logging.ERROR if outcome.status == FAILED else logging.INFO, "%s %s (%s)%s", outcome.status,
                    outcome.name, _size(outcome.bytes), f": {outcome.error}" if outcome.error else "")
            self._file = None
            return
        self._file, self._label, self._sent = outcome, f"[{index + 1}/{total}] {outcome.name}", 0
        self._draw(force=True)

    def on_bytes(self, count: int) -> None:
        self._sent += count
        self._draw()

    def _draw(self, force=False):
        if not self.enabled or self._file is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        total = max(self._file.bytes, 1)
        sent = min(self._sent, total)
        self._write(f"{self._label}  {100 * sent // total:3d}%  {_size(sent)} of {_size(self._file.bytes)}")

    def _write(self, text):
        width = 100
        text = text if len(text) <= width else text[: width - 3] + "..."
        self.stream.write("\r" + text.ljust(len(self._line)))
        self.stream.flush()
        self._line = text

    def close(self) -> None:
        if self.enabled and self._line:
            self.stream.write("\r" + " " * len(self._line) + "\r")
            self.stream.flush()
            self._line = ""


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
