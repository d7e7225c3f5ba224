"""The high water mark (HWM): where the previous successful run stopped.

The file ``<prefix>_hwm.txt`` holds one line, ``YYYY-MM-DD HH:MM:SS`` in UTC. It exists only once a
run succeeded and published it; a first run starts at ``BEGINNING_OF_TIME``. A file that exists but
cannot be read or parsed is an error, never a silent reset: resetting would re-extract (or worse,
skip) a window without anyone noticing.
"""

import os
import re
from datetime import datetime, timezone
from typing import Optional, Protocol, Tuple, Union

from .errors import HWMError
from .files import atomic_write

HWM_FORMAT = "%Y-%m-%d %H:%M:%S"
BEGINNING_OF_TIME = "1970-01-01 00:00:00"
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def hwm_path(prefix: str, file_path: Optional[str] = None) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise HWMError(
            f"invalid HWM prefix {prefix!r}: use letters, digits, '_', '-' or '.', e.g. 'postgres'"
        )
    return os.path.join(file_path if file_path is not None else os.getcwd(), f"{prefix}_hwm.txt")


def parse_hwm(value: Union[str, datetime], what: str = "HWM") -> datetime:
    """Parse a ``YYYY-MM-DD HH:MM:SS`` string (UTC) into an aware datetime, or raise HWMError."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise HWMError(f"{what} must be a string formatted YYYY-MM-DD HH:MM:SS (UTC), got {type(value).__name__}")
    try:
        return datetime.strptime(value.strip(), HWM_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise HWMError(f"{what} {value!r} is not formatted YYYY-MM-DD HH:MM:SS (UTC), e.g. '2026-01-31 23:59:00'") from None


def format_hwm(moment: Union[str, datetime]) -> str:
    return parse_hwm(moment).strftime(HWM_FORMAT)


def now_hwm() -> str:
    return datetime.now(timezone.utc).strftime(HWM_FORMAT)


class HWMStore(Protocol):
    """Where a run's HWM is kept: this host's file (``FileHWM``), the landing area
    (``lib.landing.LandingHWM``) or an Airflow Variable (``extractors.airflow.VariableHWM``).

    ``read`` returns the published HWM (or the beginning of time) and remembers its ``version``;
    ``publish`` writes the next start only if the HWM is still at that version, so of two runs
    racing on one source only one advances it (a store without versions ignores it).
    """

    version: object

    def where(self) -> str: ...

    def read(self) -> str: ...

    def get(self) -> Tuple[str, str]: ...

    def publish(self, value: str, version: object = ...) -> str: ...


class FileHWM:
    """The HWM file in a folder of this host (``get_hwm``/``publish_hwm``): the collector's default."""

    def __init__(self, name: str, folder: Optional[str] = None) -> None:
        self.name, self.folder = name, folder
        self.version: object = None

    def where(self) -> str:
        return hwm_path(self.name, self.folder)

    def read(self) -> str:
        return get_hwm(self.name, self.folder)[0]

    def get(self) -> Tuple[str, str]:
        """``(start_hwm, end_hwm)``: the published HWM (or the beginning of time) and now, UTC."""
        return get_hwm(self.name, self.folder)

    def publish(self, value: str, version: object = None) -> str:
        return publish_hwm(self.name, value, self.folder)


def get_hwm(prefix: str, file_path: Optional[str] = None) -> Tuple[str, str]:
    """Return ``(start_hwm, end_hwm)``: the published HWM (or the beginning of time) and now, UTC."""
    path = hwm_path(prefix, file_path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return BEGINNING_OF_TIME, now_hwm()
    except UnicodeDecodeError:
        raise _corrupt(path, "bytes that are not UTF-8 text") from None
    except OSError as e:
        raise HWMError(f"cannot read HWM file {path}: {e.strerror or e}. "
                       "Fix its permissions, or delete it to re-extract from the beginning of time.") from None
    try:
        start = format_hwm(text.strip())
    except HWMError:
        raise _corrupt(path, repr(text[:40])) from None
    return start, now_hwm()


def _corrupt(path: str, found: str) -> HWMError:
    return HWMError(
        f"HWM file {path} is corrupt: expected one line 'YYYY-MM-DD HH:MM:SS' (UTC), found {found}. "
        "Write the last good value into it, or delete it to re-extract from the beginning of time.")


def publish_hwm(prefix: str, date: Union[str, datetime], file_path: Optional[str] = None) -> str:
    """Record ``date`` as the next run's start. Written aside then renamed, so never half-written."""
    path = hwm_path(prefix, file_path)
    value = format_hwm(date) if isinstance(date, datetime) else date
    parse_hwm(value, what="the HWM to publish")
    value = value.strip()  # a str: parse_hwm refused anything else
    return atomic_write(path, value + "\n", unique=True)  # unique: runs may race to publish
