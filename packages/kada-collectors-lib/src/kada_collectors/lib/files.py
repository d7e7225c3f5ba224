"""Files that readers see whole or not at all: written aside, fsynced, then renamed into place."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import IO, Any, Callable, Union

# What to write: the text or bytes, or a callback that writes into the open temporary file.
Content = Union[str, bytes, Callable[[IO[Any]], None]]


def atomic_write(path: str, content: Content, *, binary: bool = False, unique: bool = False,
                 suffix: str = "tmp") -> str:
    """Write ``content`` to ``.<name>[.<random>].<suffix>`` beside ``path``, fsync it, then rename
    it over ``path``; on any failure the temporary file is removed and the error raised. ``unique``
    adds a random label so that writers racing on one folder never share a temporary file.
    A callback gets a binary file when ``binary`` is set (bytes content always does), else UTF-8 text."""
    folder, name = os.path.split(path)
    label = f".{secrets.token_hex(4)}" if unique else ""
    tmp = os.path.join(folder, f".{name}{label}.{suffix}")
    binary = binary or isinstance(content, bytes)
    f = open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8")
    try:
        if callable(content):
            content(f)
        else:
            f.write(content)  # type: ignore[arg-type]  # bytes opened it binary, str as text
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
    except BaseException:
        discard(f, tmp)  # a full disk or an interrupt leaves no half file aside
        raise
    return path


def discard(raw: IO[Any], path: str) -> int:
    """Close ``raw`` and delete its file; closing flushes, which fails on a full disk: the file is
    deleted all the same. Returns the bytes it held."""
    with contextlib.suppress(OSError, ValueError):
        raw.close()
    try:
        size = os.path.getsize(path)
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return size
