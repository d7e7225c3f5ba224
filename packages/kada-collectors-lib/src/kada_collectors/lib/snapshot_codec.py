"""The bytes of one object in a snapshot: the one codec of that layout.

The server sends each metadata row as the contract's CSV fields (quoted, quotes doubled, ``|``
between them): the checksums of the compared fields first, ``CHECKSUM_WIDTH`` hex digits each in
the order the fields are compared, then the record, which starts with OBJECT_TYPE and OBJECT_ID.
The snapshot keeps one line per object of the same three fields, identity first:
``"type"|"id"|"checksums"`` and a line end. Type and id stay as the file has them (CSV field
content, quotes doubled), so nothing is quoted or unquoted on the way.
"""

import re
from collections.abc import Iterator, Sequence

# One field's checksum: 4 bytes (int4send of hashtext), in hex.
CHECKSUM_WIDTH = 8
_QUOTED = rb'"((?:[^"]+|"")*)"'
_IDENTITY = re.compile(_QUOTED + rb"\|" + _QUOTED + rb"\|")
_LINE = re.compile(_QUOTED + rb"\|" + _QUOTED + rb'\|"([0-9a-f]*)"\n')


def split_record(record: bytes) -> tuple[bytes, bytes, bytes, int]:
    """(checksums, object_type, object_id, start) of a server record; ``record[start:]`` is the
    record without its checksums. Type and id as the file has them."""
    start = record.index(b"|") + 1
    # Once per metadata row, so no check: the server writes both fields on every record.
    object_type, object_id = _IDENTITY.match(record, start).group(1, 2)  # type: ignore[union-attr]
    return record[1:start - 2], object_type, object_id, start


def encode_line(object_type: bytes, object_id: bytes, checksums: bytes) -> bytes:
    """One object's snapshot line (type and id as CSV field content, the checksums in hex)."""
    return b"".join((b'"', object_type, b'"|"', object_id, b'"|"', checksums, b'"\n'))


def parse_lines(lines: bytes) -> Iterator[tuple[bytes, ...]]:
    """(object_type, object_id, checksums) of each line, as stored."""
    return (match.groups() for match in _LINE.finditer(lines))


def field(text: str) -> bytes:
    """``text`` as CSV field content (quotes doubled), UTF-8."""
    return text.replace('"', '""').encode("utf-8")


def unfield(content: bytes) -> str:
    """The text of CSV field content (``field``'s inverse)."""
    return content.decode("utf-8").replace('""', '"')


def with_checksum(checksums: bytes, names: Sequence[str], name: str, checksum: bytes) -> bytes:
    """``checksums`` (hex, one per name of ``names``) with ``name``'s replaced by ``checksum``."""
    at = CHECKSUM_WIDTH * names.index(name)
    return checksums[:at] + checksum + checksums[at + CHECKSUM_WIDTH:]


def changed_fields(old: bytes, new: bytes, names: Sequence[str]) -> list[str]:
    """The ``names`` whose checksums differ between payloads ``old`` and ``new``: one checksum per
    name, all of the same width (hex as stored, or the bytes they stand for)."""
    width = len(new) // len(names)
    return [name for i, name in enumerate(names) if old[width * i:width * (i + 1)] != new[width * i:width * (i + 1)]]
