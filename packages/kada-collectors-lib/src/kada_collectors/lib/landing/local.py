"""A landing folder on a file system (a local disk, or a mounted NFS/SMB share)."""

import contextlib
import hashlib
import os
import sys
import time
from typing import IO, Callable, Iterator, Optional, Tuple

from ..files import atomic_write
from ..hwm import publish_hwm
from ..writer import sha256_of
from .base import LocalFile, RemoteFile, Store
from .errors import HWMConflict, LandingError

_CHUNK = 1 << 20
LOCK_TIMEOUT_SECONDS = 60


class LocalStore(Store):
    kind = "local"

    def __init__(self, settings: dict) -> None:
        self.path = settings["path"]

    def where(self, name: str = "") -> str:
        return os.path.join(self.path, name) if name else self.path

    def check(self) -> None:
        if not os.path.isdir(self.path):
            raise LandingError(f"the landing folder {self.path} does not exist; create it (or mount the share) "
                               "and push again")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise LandingError(f"the landing folder {self.path} is not writable by this user; fix its permissions")

    def stat(self, name: str) -> Optional[RemoteFile]:
        path = self.where(name)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise LandingError(f"cannot read {path}: {e.strerror}") from None
        return RemoteFile(size=size, checksum=sha256_of(path))

    def expected_checksum(self, local: LocalFile) -> str:
        return local.sha256

    def upload(self, local: LocalFile, name: str, on_bytes: Optional[Callable[[int], None]] = None) -> None:
        target = self.where(name)

        def copy(dst: IO[bytes]) -> None:
            with open(local.path, "rb") as src:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
        try:
            atomic_write(target, copy, binary=True, unique=True, suffix="part")
        except OSError as e:
            raise LandingError(f"cannot write {target}: {e.strerror or e}") from None

    def read_text(self, name: str) -> Tuple[Optional[str], Optional[str]]:
        path = self.where(name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None, None
        except OSError as e:
            raise LandingError(f"cannot read {path}: {e.strerror}") from None
        return data.decode("utf-8", "replace"), hashlib.sha256(data).hexdigest()

    def write_text(self, name: str, text: str, version: object) -> None:
        """Under an exclusive lock on ``.<name>.lock``: compare, then write aside and rename."""
        with _locked(os.path.join(self.path, f".{name}.lock")):
            _, current = self.read_text(name)
            if current != version:
                raise HWMConflict(f"{self.where(name)} changed after this run read it (another run published "
                                  "its HWM meanwhile); this run's HWM was not published")
            if name.endswith("_hwm.txt"):
                publish_hwm(name[: -len("_hwm.txt")], text.strip(), self.path)  # the HWM file's own atomic write
            else:
                atomic_write(self.where(name), text, unique=True)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive advisory lock, released when the process dies (flock; msvcrt on Windows)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                _lock(fd)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise HWMConflict(f"{path} stayed locked for {LOCK_TIMEOUT_SECONDS}s: another run is "
                                      "publishing its HWM; this run's HWM was not published") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform != "win32":  # a platform check, which type checkers follow
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
else:
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
