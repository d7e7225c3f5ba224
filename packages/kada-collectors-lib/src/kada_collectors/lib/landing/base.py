"""What every landing store offers, and the local file being pushed."""

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Optional, Sequence, Tuple, Union

from ..redact import REDACTED, redact_credentials

_CHUNK = 1 << 20
# Files larger than this go to S3 in parts of PART_SIZE (S3 takes 5 GiB at most in one PUT).
MULTIPART_THRESHOLD = 64 << 20
PART_SIZE = 16 << 20


@dataclass
class LocalFile:
    """A file to push, with its digests (computed in one pass when first needed)."""

    path: str
    name: str
    size: int
    sha256: str  # hex
    _md5: Optional[str] = field(default=None, repr=False)
    _part_sha256: Optional[list[bytes]] = field(default=None, repr=False)
    _part_size: int = field(default=0, repr=False)

    @classmethod
    def of(cls, path: Union[str, "os.PathLike[str]"], sha256: Optional[str] = None) -> "LocalFile":
        """``sha256`` as the manifest says (already checked) or None to compute it."""
        local = cls(path=os.fspath(path), name=os.path.basename(path), size=os.path.getsize(path), sha256=sha256 or "")
        if not sha256:
            local._digest()
        return local

    def _digest(self, part_size: int = PART_SIZE) -> None:
        sha, md5, parts, part, in_part = hashlib.sha256(), hashlib.md5(), [], hashlib.sha256(), 0
        with open(self.path, "rb") as f:
            while chunk := f.read(min(_CHUNK, part_size - in_part)):
                sha.update(chunk)
                md5.update(chunk)
                part.update(chunk)
                in_part += len(chunk)
                if in_part == part_size:
                    parts.append(part.digest())
                    part, in_part = hashlib.sha256(), 0
        if in_part or not parts:
            parts.append(part.digest())
        self.sha256, self._md5, self._part_sha256, self._part_size = sha.hexdigest(), md5.hexdigest(), parts, part_size

    @property
    def md5(self) -> str:
        if self._md5 is None:
            self._digest()
        assert self._md5 is not None
        return self._md5

    def part_sha256(self, part_size: int = PART_SIZE) -> list[bytes]:
        """The SHA-256 digest (bytes) of each ``part_size`` part, in order."""
        if self._part_sha256 is None or self._part_size != part_size:
            self._digest(part_size)
        assert self._part_sha256 is not None
        return self._part_sha256

    def s3_checksum(self, threshold: int = MULTIPART_THRESHOLD, part_size: int = PART_SIZE) -> str:
        """The ChecksumSHA256 S3 reports for this file uploaded as ``S3Store`` uploads it: the
        file's digest for one PUT, or the digest of the parts' digests and "-<parts>" for a
        multipart upload."""
        if self.size <= threshold:
            return base64.b64encode(bytes.fromhex(self.sha256)).decode()
        parts = self.part_sha256(part_size)
        return base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode() + f"-{len(parts)}"


@dataclass
class RemoteFile:
    """What the landing holds under a name."""

    size: int
    # As the store states it: S3 ChecksumSHA256, Azure Content-MD5 in hex, a folder's SHA-256.
    checksum: Optional[str] = None
    etag: Optional[str] = None


class Store:
    """A landing area: a folder on a file system, an S3 prefix or an Azure container folder.

    Names are file names (no folders); each store maps them under its prefix. Writes are atomic
    at the name: a reader sees the whole file or none (a PUT, a block list commit, a rename).
    """

    kind = "?"
    secrets: Sequence[Optional[str]] = ()  # values never to appear in a message

    def where(self, name: str = "") -> str:
        """A display location (no secret), e.g. ``s3://bucket/prefix/name``."""
        raise NotImplementedError

    def check(self) -> None:
        """Fail with a clear ``LandingError`` unless the landing exists and the credentials work."""
        raise NotImplementedError

    def stat(self, name: str) -> Optional[RemoteFile]:
        """The ``RemoteFile`` under ``name``, or None when absent."""
        raise NotImplementedError

    def expected_checksum(self, local: LocalFile) -> Optional[str]:
        """The checksum this store reports for ``local`` once landed (compared with ``RemoteFile.checksum``)."""
        raise NotImplementedError

    def upload(self, local: LocalFile, name: str, on_bytes: Optional[Callable[[int], None]] = None) -> None:
        """Write ``local`` under ``name`` (replacing it), atomically; ``on_bytes(n)`` reports progress."""
        raise NotImplementedError

    def read_text(self, name: str) -> Tuple[Optional[str], Any]:
        """``(text, version)`` of a small text object, or ``(None, None)`` when absent."""
        raise NotImplementedError

    def write_text(self, name: str, text: str, version: Any) -> None:
        """Write a small text object only if it is still at ``version`` (None: only if absent);
        raise ``HWMConflict`` otherwise."""
        raise NotImplementedError

    def matches(self, remote: Optional[RemoteFile], local: LocalFile) -> bool:
        """Whether ``remote`` holds exactly ``local`` (size and checksum)."""
        return remote is not None and remote.size == local.size and remote.checksum == self.expected_checksum(local)

    def scrub(self, text: object) -> str:
        """``text`` without credentials, for a message."""
        text = redact_credentials(str(text))
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text


class ProgressReader:
    """A binary file object that reports the bytes read (for uploads that only take a stream)."""

    def __init__(self, f: IO[bytes], on_bytes: Optional[Callable[[int], None]]) -> None:
        self._f, self._on_bytes = f, on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        if data and self._on_bytes:
            self._on_bytes(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)
