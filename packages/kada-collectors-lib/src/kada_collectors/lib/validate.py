"""Check a folder of extracts against the contract (docs/contract.md).

``validate_folder(folder)`` returns a ``ValidationReport`` listing every problem as a sentence
that names the file, where in it, what is wrong and what was expected. Files are streamed a line
at a time (gzip decompressed on the fly), so a multi-GB extract is checked in bounded memory;
the only state that grows is one 16-byte digest per record, for the uniqueness check (every
extract is a set; a metadata record's key is its object).
"""

import codecs
import csv
import gzip
import hashlib
import itertools
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Optional

from .contract import DELIMITER, EXTRACT_COLUMNS, EXTRACT_NAME, MANIFEST_NAME, QUOTE, RECORD_END, UNIQUE_COLUMNS
from .manifest import ManifestFile, ManifestOnDisk
from .manifest import read as read_manifest
from .writer import sha256_of

MAX_PROBLEMS_PER_FILE = 20
_CHUNK = 1 << 20  # longest piece of a line read at once; bounds memory whatever the line length
_HEADER_LIMIT = 1 << 16  # the header is read whole to check it; one longer than this is wrong anyway
_LEFTOVER_SUFFIXES = (".tmp", ".part")  # the writer's hidden temp files (writer.py)


@dataclass
class ValidationReport:
    problems: list = field(default_factory=list)
    files_checked: int = 0
    manifests_checked: int = 0

    @property
    def ok(self):
        return not self.problems


def validate_folder(folder):
    """Check every manifest and extract file of ``folder``; see the module docstring."""
    folder = os.fspath(folder)
    report = ValidationReport()
    if not os.path.isdir(folder):
        report.problems.append(f"{folder}: no such folder; pass the folder the collector wrote its extracts to")
        return report
    names = sorted(e.name for e in os.scandir(folder) if e.is_file())
    manifests = [n for n in names if MANIFEST_NAME.match(n)]
    if not manifests:
        report.problems.append(
            f"{folder}: no manifest (<source>_manifest_<YYYYMMDDHHMMSS>.json) found; "
            "a run writes one last, so no run completed here"
        )
    listed = {}
    for name in manifests:
        listed.update(check_manifest(folder, name, report))
    for name, (manifest, entry) in sorted(listed.items()):
        check_listed_file(folder, name, manifest, entry, report)
    for name in names:
        if name not in listed and EXTRACT_NAME.match(name):
            _check_unlisted_file(folder, name, report)
        elif name.startswith(".") and name.endswith(_LEFTOVER_SUFFIXES):
            report.problems.append(f"{name}: a temporary file: an interrupted run left it; delete it")
    return report


class _FileProblems:
    """One file's problems, capped so that a broken file does not flood the report."""

    def __init__(self, name, report):
        self.name, self.report, self.count = name, report, 0

    def add(self, message):
        self.count += 1
        if self.count <= MAX_PROBLEMS_PER_FILE:
            self.report.problems.append(f"{self.name}: {message}")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.count > MAX_PROBLEMS_PER_FILE:
            self.report.problems.append(f"{self.name}: ... and {self.count - MAX_PROBLEMS_PER_FILE} more problems")


# ---------------------------------------------------------------- manifests


def check_manifest(folder: str, name: str, report: ValidationReport, manifest: Optional[ManifestOnDisk] = None) -> dict:
    """Check one manifest (read from ``folder`` unless given) into ``report``; return the files it
    lists as {file name: (manifest name, ManifestFile)}."""
    report.manifests_checked += 1
    manifest = manifest or read_manifest(os.path.join(folder, name))
    with _FileProblems(name, report) as problems:
        for problem in manifest.problems:
            problems.add(problem)
    return {entry.name: (name, entry) for entry in manifest.files}


# ---------------------------------------------------------------- extract files


def check_listed_file(folder: str, name: str, manifest: str, entry: ManifestFile, report: ValidationReport) -> None:
    """A file a manifest lists: present, of the size, digest and row count it says, well formed."""
    with _FileProblems(name, report) as problems:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            problems.add(f"{manifest} lists it but it is missing from the folder")
            return
        size = os.path.getsize(path)
        if size != entry.bytes:
            problems.add(f"is {size} bytes; {manifest} says {entry.bytes}")
        digest = sha256_of(path)
        if digest != entry.sha256:
            problems.add(f"has SHA-256 {digest}; {manifest} says {entry.sha256} (the file changed after the run)")
        rows = _check_extract_content(path, name, problems, report)
        if rows is not None and rows != entry.rows:
            problems.add(f"holds {rows} records; {manifest} says {entry.rows}")


def _check_unlisted_file(folder, name, report):
    with _FileProblems(name, report) as problems:
        problems.add("no manifest lists it, so no completed run wrote it; delete it or re-run the collector")
        _check_extract_content(os.path.join(folder, name), name, problems, report)


def _check_extract_content(path, name, problems, report):
    """Stream the file through a ``_CsvChecker``; return its record count, or None if it cannot be read."""
    extract = EXTRACT_NAME.match(name)["extract"]
    if extract not in EXTRACT_COLUMNS:
        problems.add(f"extract {extract!r} is unknown; expected one of {', '.join(EXTRACT_COLUMNS)}")
        return None
    report.files_checked += 1
    checker = _CsvChecker(extract, problems)
    compressed = name.endswith(".gz")
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream:
            _feed(stream, checker)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        problems.add(f"cannot be read{' as gzip' if compressed else ''} ({e}); expected "
                     + ("a complete gzip stream of the CSV text" if compressed else "a readable file"))
        return None
    return checker.records


def _feed(stream, checker):
    chunk = stream.readline(_HEADER_LIMIT)
    if not chunk:
        checker.problems.add("is empty; expected at least the header line")
        return
    chunk = checker.start(chunk)
    pending = b""
    while chunk:
        checker.check_utf8(chunk)
        pending = checker.feed(pending + chunk)
        chunk = stream.readline(_CHUNK)
    checker.finish(pending)


# ---------------------------------------------------------------- the CSV checker

_Q, _D, _END = (c.encode() for c in (QUOTE, DELIMITER, RECORD_END))
_FIELD_RE = rb'"[^"]*(?:""[^"]*)*"'  # a field quoted with QUOTE ("): no lone quote inside
_D_RE = re.escape(_D)
_FIELD_START, _IN_FIELD, _AFTER_FIELD, _SKIP_LINE = "field start", "in field", "after field", "skip line"


def _record_pattern(width, key_width):
    """One well-formed record of ``width`` fields ending the line; group "key" is its first key_width fields."""
    key = _D_RE.join([_FIELD_RE] * key_width)
    rest = _D_RE.join([_FIELD_RE] * (width - key_width))
    separator = _D_RE if key and rest else b""
    return re.compile(b"(?P<key>" + key + b")" + separator + rest + re.escape(_END))


class _CsvChecker:
    """Checks one extract's CSV bytes as they stream by, one line (or 1 MiB piece of one) at a time.

    A line that is a whole well-formed record is accepted by one regex match (the fast path,
    nearly every line). Otherwise a small state machine walks the fields, which also handles
    records spanning lines (newlines inside quotes) and reports what exactly is wrong. After a
    syntax problem it skips to the next line, so one bad record yields one problem.
    """

    def __init__(self, extract, problems):
        self.extract, self.problems = extract, problems
        self.columns = EXTRACT_COLUMNS[extract]
        key_columns = UNIQUE_COLUMNS.get(extract, self.columns)  # else the whole record: the file is a set
        self.whole_record = key_columns == self.columns
        self.key_width = len(key_columns)
        assert self.columns[: self.key_width] == key_columns, "unique columns must lead the columns"
        self._record_re = _record_pattern(len(self.columns), self.key_width)
        self._keys = set()  # 16-byte digests of the keys seen: bounded enough for millions of rows
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.line = 1  # physical line of the parse position
        self.record = 0  # the record being read; 0 is the header
        self._field = 0  # index of the field being read
        self._record_line = 1  # line where the record being read began (slow path)
        self._state = _FIELD_START
        self._bad = False  # the current record already had a syntax problem
        self._key = hashlib.blake2b(digest_size=16)
        self._key_text = bytearray()  # the start of the key, to quote in a message
        self._ended_line = False

    @property
    def records(self):
        """Data records read so far (the header is not one)."""
        return max(self.record - 1, 0)

    def _where(self):
        return f"line {self.line} ({'header' if self.record == 0 else f'record {self.record}'})"

    def _field_label(self, index=None):
        index = self._field if index is None else index
        return f"field {index + 1}" + (f" ({self.columns[index]})" if index < len(self.columns) else "")

    # -- whole-file checks

    def start(self, first_line):
        """Check the BOM and header on the first line; return it without the BOM."""
        if first_line.startswith(codecs.BOM_UTF8):
            self.problems.add("line 1 starts with a byte order mark (BOM); expected UTF-8 without BOM")
            first_line = first_line[len(codecs.BOM_UTF8):]
        text = first_line.decode("utf-8", "replace").rstrip("\r\n")
        try:
            found = next(csv.reader([text], delimiter=DELIMITER, quotechar=QUOTE), [])
        except csv.Error:
            found = []
        for i, (got, want) in enumerate(itertools.zip_longest(found, self.columns), 1):
            if got != want:
                self.problems.add(
                    f"line 1 (header): column {i} is {'missing' if got is None else repr(got)}, "
                    f"expected {'no more columns' if want is None else repr(want)}; "
                    f"the {self.extract} header is {DELIMITER.join(self.columns)}, each quoted, in that order"
                )
                break
        return first_line

    def check_utf8(self, chunk):
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError as e:
            self._bad_utf8(e)

    def _bad_utf8(self, error):
        self.problems.add(f"line {self.line}: bytes {error.object[error.start:error.end].hex(' ')} are not valid "
                          "UTF-8; expected UTF-8 text")
        self._decoder.reset()

    def finish(self, pending):
        """End of the file: the last record must be complete and end with a newline."""
        self._parse(pending, final=True)
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            self._bad_utf8(e)
        if self._state is _IN_FIELD:
            self.problems.add(f"record {self.record} (from line {self._record_line}): the file ends inside quoted "
                              f"{self._field_label()}; expected a closing quote (is a quote in it not doubled?)")
        elif self._state is _FIELD_START and self._field > 0:
            self._unquoted()
        if not self._ended_line:
            self.problems.add(f"{self._where()}: the file does not end with a newline; expected \\n after "
                              "every record, the last included")
        if self._state is not _FIELD_START or self._field > 0:
            self._end_record()

    # -- records

    def feed(self, data):
        """Check the next piece of the file; return bytes to prepend to the next piece (at most 1)."""
        self._ended_line = data.endswith(_END)
        if self._state is _FIELD_START and self._field == 0:
            match = self._record_re.fullmatch(data)
            if match:
                self._keep(match["key"], 0, len(match["key"]))
                self._end_record(fields=len(self.columns))
                self.line += 1
                return b""
        return self._parse(data, final=False)

    def _end_record(self, fields=None):
        fields = self._field + 1 if fields is None else fields
        if self.record > 0 and not self._bad:
            if fields != len(self.columns):
                self.problems.add(f"{self._where()}: has {fields} fields; expected {len(self.columns)}, "
                                  f"as many as the {self.extract} header")
            elif self.key_width:
                self._check_key_unique()
        self.record += 1
        self._field, self._state, self._bad = 0, _FIELD_START, False
        self._key, self._key_text = hashlib.blake2b(digest_size=16), bytearray()

    def _check_key_unique(self):
        digest = self._key.digest()
        if digest in self._keys and self.whole_record:
            self.problems.add(
                f"{self._where()}: {self._key_text.decode('utf-8', 'replace')} repeats an earlier record "
                f"field for field; expected every record once (a {self.extract} file is a set)"
            )
        elif digest in self._keys:
            self.problems.add(
                f"{self._where()}: ({', '.join(self.columns[: self.key_width])}) "
                f"{self._key_text.decode('utf-8', 'replace')} repeats an earlier record's; "
                "expected it unique in the file"
            )
        self._keys.add(digest)

    def _keep(self, data, start, stop):
        """data[start:stop] is part of the current record's key (raw, quotes and delimiters included)."""
        if self._field < self.key_width and self.record > 0:  # the header has no key
            self._key.update(data[start:stop])
            if len(self._key_text) < 200:
                self._key_text += data[start:stop][:200]

    def _fail(self, message):
        self.problems.add(f"{self._where()}: {message}")
        self._bad, self._state = True, _SKIP_LINE

    def _unquoted(self):
        self._fail(f"{self._field_label()} is not enclosed in double quotes; expected every field quoted, "
                   'an empty one as ""')

    def _parse(self, data, final):
        """The state machine over the fields of ``data``; return its undecidable tail (see ``feed``)."""
        pos, end = 0, len(data)
        while pos < end:
            if self._state is _FIELD_START:
                if self._field == 0:
                    self._record_line = self.line
                if data[pos:pos + 1] != _Q:
                    self._unquoted()
                    continue
                self._keep(data, pos, pos + 1)
                self._state, pos = _IN_FIELD, pos + 1
            elif self._state is _IN_FIELD:
                quote = data.find(_Q, pos)
                if quote < 0 or (quote + 1 == end and not final):  # a quote last: doubled or closing?
                    stop = end if quote < 0 else quote
                    self._keep(data, pos, stop)
                    self.line += data.count(_END, pos, stop)
                    return data[stop:]
                stop = quote + 2 if data[quote + 1:quote + 2] == _Q else quote + 1
                self._keep(data, pos, stop)
                self.line += data.count(_END, pos, stop)
                if stop == quote + 1:
                    self._state = _AFTER_FIELD
                pos = stop
            elif self._state is _AFTER_FIELD:
                byte = data[pos:pos + 1]
                if byte == _D:
                    self._field += 1
                    self._keep(data, pos, pos + 1)  # kept only between two key fields
                    self._state, pos = _FIELD_START, pos + 1
                elif byte == _END:
                    self._end_record()
                    self.line, pos = self.line + 1, pos + 1
                elif data.startswith(b"\r", pos) and pos + 1 == end and not final:
                    return data[pos:]
                elif data.startswith(b"\r\n", pos):
                    self.problems.add(f"{self._where()}: ends with \\r\\n (CRLF); expected \\n alone")
                    self._end_record()
                    self.line, pos = self.line + 1, pos + 2
                else:
                    found = byte.decode("utf-8", "backslashreplace")
                    self._fail(f"{found!r} follows the closing quote of {self._field_label()}; expected | or the "
                               'end of the line (a " inside a field must be doubled as "")')
            else:  # _SKIP_LINE: after a syntax problem, resume at the next line
                newline = data.find(_END, pos)
                if newline < 0:
                    return b""
                self._end_record()
                self.line, pos = self.line + 1, newline + 1
        return b""
