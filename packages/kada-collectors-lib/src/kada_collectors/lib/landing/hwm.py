"""The HWM kept in the landing area: ``LandingHWM``, an ``HWMStore`` (``lib.hwm``) like the
working folder's ``FileHWM`` (defined in ``lib.hwm``, importable from here too).

Both hold the same thing, one line ``YYYY-MM-DD HH:MM:SS`` (UTC) named ``<name>_hwm.txt``
(``lib.hwm``). In the landing area the HWM survives the host: a collector on a fresh machine
continues where the last run stopped. Publishing there is a conditional write against the
version read at the start of the run (S3 ``If-Match``/``If-None-Match``, an Azure ETag, a locked
compare-and-rename on a file system), so of two runs racing on one source only one advances it;
the other gets ``HWMConflict``.
"""

import logging
import os
from typing import Optional, Tuple

from ..errors import HWMError
from ..hwm import BEGINNING_OF_TIME, FileHWM, format_hwm, get_hwm, hwm_path, now_hwm, parse_hwm
from .base import Store
from .errors import HWMConflict

log = logging.getLogger(__name__)
_UNREAD = object()


def hwm_name(name: str) -> str:
    """The HWM file name of ``name`` (validated as ``lib.hwm`` does)."""
    return os.path.basename(hwm_path(name, ""))


class LandingHWM:
    """The HWM in the landing area (an ``HWMStore``), published only if nobody changed it since it was read.

    ``seed_folder``: where a previous host kept its HWM file; used once, when the landing has
    none yet, so moving the HWM to the landing area does not restart from the beginning of time.
    """

    def __init__(self, store: Store, name: str, seed_folder: Optional[str] = None) -> None:
        self.store, self.name, self.seed_folder = store, name, seed_folder
        self.key = hwm_name(name)
        self.version = _UNREAD
        self.start: Optional[str] = None

    def where(self) -> str:
        return self.store.where(self.key)

    def read(self) -> str:
        """The published HWM (or the seed, or the beginning of time); remembers its version."""
        text, self.version = self.store.read_text(self.key)
        if text is None:
            start = BEGINNING_OF_TIME
            seed = hwm_path(self.name, self.seed_folder) if self.seed_folder is not None else None
            if seed and os.path.exists(seed):
                start = get_hwm(self.name, self.seed_folder)[0]
                log.info("no HWM at %s yet; starting from %s, the HWM file %s", self.where(), start, seed)
        else:
            try:
                start = format_hwm(text.strip())
            except HWMError:
                raise HWMError(
                    f"the HWM at {self.where()} is corrupt: expected one line 'YYYY-MM-DD HH:MM:SS' (UTC), found "
                    f"{text[:40]!r}. Write the last good value into it, or delete it to re-extract from the "
                    "beginning of time.") from None
        self.start = start
        return start

    def get(self) -> Tuple[str, str]:
        """``(start_hwm, end_hwm)`` as ``lib.hwm.get_hwm``: the published HWM and now (UTC)."""
        return self.read(), now_hwm()

    def publish(self, value: str, version: object = _UNREAD) -> str:
        """Write ``value`` if the HWM is still at ``version`` (default: the version ``get`` read).

        A version travels between processes as a string (an S3/Azure ETag, a file's SHA-256), or
        None for "there was none".
        """
        if version is _UNREAD:
            version = self.version
        if version is _UNREAD:
            raise HWMError("the landing HWM must be read (get) before it is published, to detect a racing run")
        value = format_hwm(value) if not isinstance(value, str) else value.strip()
        parse_hwm(value, what="the HWM to publish")
        if self.start is not None and parse_hwm(value) < parse_hwm(self.start):
            raise HWMError(f"refusing to move the HWM at {self.where()} back from {self.start} to {value}")
        self.store.write_text(self.key, value + "\n", version)
        _, self.version = self.store.read_text(self.key)
        return self.where()


__all__ = ["FileHWM", "LandingHWM", "HWMConflict", "hwm_name"]
