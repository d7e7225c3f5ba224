"""Headless Chromium for the report tests, driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands on fd 3 and write replies and
events on fd 4, each a JSON message ended by a NUL byte: no websocket client, no driver, no
extra package. ``find_or_install_chromium`` finds the browser, or installs Debian's ``chromium``
with apt-get when run as root (about 110 MB downloaded, half a minute on a fresh machine).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# The flags Chromium came up with on these machines (see the project's tooling notes): no
# sandbox (root in a container), nothing fetched in the background, a fresh profile each time.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


class BrowserUnavailable(Exception):
    pass


def find_or_install_chromium() -> str:
    """The path of a Chromium-like browser; installed with apt-get when missing and we are root."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BrowserUnavailable("no Chromium on PATH and not root with apt-get to install it: "
                                 "install chromium (or set CHROMIUM to a Chrome binary)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise BrowserUnavailable(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")
    path = shutil.which("chromium")
    if not path:
        raise BrowserUnavailable("apt-get installed chromium but it is not on PATH")
    return path


def _high_fd(fd: int) -> int:
    """``fd`` moved to a number above 10, so that placing the pipes at 3 and 4 cannot clobber them."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless browser; ``open(url)`` gives a ``Page``."""

    def __init__(self, executable: str, width: int = 1400, height: int = 1000):
        self.profile = tempfile.mkdtemp(prefix="kada-chromium-")
        commands_read, self._commands = (_high_fd(fd) for fd in os.pipe())
        self._replies, replies_write = (_high_fd(fd) for fd in os.pipe())

        def place_pipes():  # in the child, before exec: Chromium expects them at fds 3 and 4
            os.dup2(commands_read, 3)  # dup2 makes them inheritable; Python's own fds are not
            os.dup2(replies_write, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=place_pipes)
        os.close(commands_read)
        os.close(replies_write)
        self._buffer, self._next_id, self.events = b"", 0, []
        self.width, self.height = width, height

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        """Send one command and wait for its reply; events that arrive meanwhile go to ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):  # their events: errors, requests
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        page.navigate(url)
        return page

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._commands, self._replies):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict | None = None, timeout: float = 60):
        return self.browser.send(method, params, self.session, timeout)

    def navigate(self, url: str):
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str, timeout: float = 60):
        """The value of a JavaScript expression on the page (promises awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, interval: float = 0.05):
        """Wait until ``expression`` is truthy on the page; return its value. A script error on the
        page ends the wait at once."""
        deadline = time.monotonic() + timeout
        while True:
            if self.errors():
                raise RuntimeError(f"the page failed while waiting for {expression}: {self.errors()}")
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is between documents
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still false after {timeout} s")
            time.sleep(interval)

    def dom(self) -> str:
        """The document as rendered (what ``chromium --dump-dom`` prints, after the scripts ran)."""
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        if full_page:  # from the top: sticky table headers would sit where the window was scrolled to
            self.evaluate("window.scrollTo(0, 0)")
        params = {"format": "png", "captureBeyondViewport": full_page}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return path

    def session_events(self, method: str) -> list:
        return [e["params"] for e in self.browser.events
                if e.get("sessionId") == self.session and e["method"] == method]

    def errors(self) -> list[str]:
        """Script exceptions, console errors and refused loads (CSP) seen on this page."""
        found = [str(e["exceptionDetails"].get("exception", {}).get("description") or e["exceptionDetails"])
                 for e in self.session_events("Runtime.exceptionThrown")]
        found += [" ".join(str(a.get("value", a.get("description", ""))) for a in e.get("args", []))
                  for e in self.session_events("Runtime.consoleAPICalled") if e.get("type") == "error"]
        found += [e["entry"]["text"] for e in self.session_events("Log.entryAdded") if e["entry"]["level"] == "error"]
        return found

    def requested_urls(self) -> list[str]:
        return [e["request"]["url"] for e in self.session_events("Network.requestWillBeSent")]
