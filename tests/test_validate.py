"""The validator against folders written by the real writer, clean and with one defect each."""

import codecs
import gzip
import hashlib
import json
import os

import pytest

import fix_runs
from kada_collectors.lib import validate
from kada_collectors.lib.contract import EXTRACT_COLUMNS, manifest_file_name
from kada_collectors.lib.validate import MAX_PROBLEMS_PER_FILE, validate_folder
from kada_collectors.lib.writer import ExtractFile, write_json_atomically

STAMP = "20260102000000"
MANIFEST = manifest_file_name("postgres", STAMP)
METADATA = f"postgres_metadata_{STAMP}.csv"
ROLES = f"postgres_roles_{STAMP}.csv"
TRICKY = 'a|b "q"\nsecond line'  # a delimiter, a quote and a newline: all legal inside quotes


def meta(object_type, object_id, **values):
    """A metadata row: the key, then the other columns by lower-case name (None when not given)."""
    return [object_type, object_id, *(values.get(c.lower()) for c in EXTRACT_COLUMNS["metadata"][2:])]


# Rows per database; each database becomes one part (one gzip member when compressed).
DATABASES = {
    "dwh": {
        "metadata": [
            meta("TABLE", "h.dwh.s.t", owner="alice", description='say "hi"', definition=TRICKY, properties={"k": 1}),
            meta("COLUMN", "h.dwh.s.t.c", ordinal_position=1, is_nullable=True, description='the "c"'),
        ],
        "roles": [["USER", "h.alice", "alice", "readers"]],
    },
    "crm": {
        "metadata": [meta("SCHEMA", "h.crm.s", owner="bob")],
        "roles": [],
    },
}


def write_run(folder, compress=False, databases=DATABASES):
    """This module's run (``DATABASES``, by default) in ``folder``; returns the manifest dict."""
    return fix_runs.write_run(folder, databases, compress=compress)


def write_manifest(folder, manifest):
    write_json_atomically(os.path.join(folder, MANIFEST), manifest)


def rewrite(folder, manifest, name, change):
    """Apply ``change`` to a file's CSV bytes and update the manifest's bytes and sha256 to match,
    so that the change itself is the only defect."""
    path = os.path.join(folder, name)
    compress = name.endswith(".gz")
    with open(path, "rb") as f:
        stored = f.read()
    text = change(gzip.decompress(stored) if compress else stored)
    stored = gzip.compress(text, mtime=0) if compress else text
    with open(path, "wb") as f:
        f.write(stored)
    entry = next(e for e in manifest["files"] if e["name"] == name)
    entry.update(bytes=len(stored), sha256=hashlib.sha256(stored).hexdigest())
    write_manifest(folder, manifest)


def replace(old, new):
    def change(text):
        assert old in text, (old, text)
        return text.replace(old, new, 1)

    return change


def problems_of(folder):
    return validate_folder(folder).problems


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gzip"])
def test_a_run_written_by_the_writer_validates_clean(tmp_path, compress):
    write_run(tmp_path, compress)
    (tmp_path / "postgres_hwm.txt").write_text("2026-01-02 00:00:00\n")  # other files are ignored

    report = validate_folder(tmp_path)

    assert report.problems == []
    assert report.ok
    assert (report.files_checked, report.manifests_checked) == (2, 1)


def test_the_tricky_field_is_written_across_lines_and_validates(tmp_path):
    write_run(tmp_path)
    text = (tmp_path / METADATA).read_bytes()
    assert b'"a|b ""q""\nsecond line"' in text  # really one field spanning two lines
    assert validate_folder(tmp_path).ok


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gzip"])
def test_lines_read_in_small_pieces_still_validate(tmp_path, monkeypatch, chunk, compress):
    # Pieces smaller than a line exercise a quote or \r split from what follows it.
    monkeypatch.setattr(validate, "_CHUNK", chunk)
    write_run(tmp_path, compress)
    assert problems_of(tmp_path) == []


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_small_pieces_still_find_a_crlf(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(validate, "_CHUNK", chunk)
    manifest = write_run(tmp_path)
    rewrite(tmp_path, manifest, ROLES, replace(b'"readers"\n', b'"readers"\r\n'))
    assert problems_of(tmp_path) == [f"{ROLES}: line 2 (record 1): ends with \\r\\n (CRLF); expected \\n alone"]


# Each defect, in a plain and a compressed file: (change to the metadata CSV, the one problem expected).
# Line 2-3 is record 1 (its DEFINITION spans two lines), line 4 record 2, line 5 record 3.
DEFECTS = {
    "wrong header": (
        replace(b'"OBJECT_ID"', b'"OBJECT_KEY"'),
        "line 1 (header): column 2 is 'OBJECT_KEY', expected 'OBJECT_ID'; the metadata header is "
        "OBJECT_TYPE|OBJECT_ID|PARENT_ID|",
    ),
    "unquoted field": (
        replace(b'"COLUMN"', b"COLUMN"),
        "line 4 (record 2): field 1 (OBJECT_TYPE) is not enclosed in double quotes",
    ),
    "quote not doubled": (
        replace(b'"the ""c"""', b'"the "c""'),
        "line 4 (record 2): 'c' follows the closing quote of field 14 (DESCRIPTION); expected | or the end of "
        'the line (a " inside a field must be doubled as "")',
    ),
    "crlf": (
        replace(b'"\n"COLUMN"', b'"\r\n"COLUMN"'),
        "line 3 (record 1): ends with \\r\\n (CRLF); expected \\n alone",
    ),
    "bom": (
        lambda text: codecs.BOM_UTF8 + text,
        "line 1 starts with a byte order mark (BOM); expected UTF-8 without BOM",
    ),
    "invalid utf-8": (
        replace(b"alice", b"al\xffce"),
        "line 2: bytes ff are not valid UTF-8; expected UTF-8 text",
    ),
    "no final newline": (
        lambda text: text[:-1],
        "line 5 (record 3): the file does not end with a newline",
    ),
    "missing field": (
        replace(b'"h.crm.s"|""|', b'"h.crm.s"|'),
        "line 5 (record 3): has 18 fields; expected 19, as many as the metadata header",
    ),
    "extra field": (
        replace(b'"h.crm.s"|', b'"h.crm.s"|"x"|'),
        "line 5 (record 3): has 20 fields; expected 19",
    ),
    "unclosed quote": (
        lambda text: text[:-2] + b"\n",
        "record 3 (from line 5): the file ends inside quoted field 19 (PROPERTIES); expected a closing quote",
    ),
}


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gzip"])
@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_csv_defect_is_reported_where_it_is(tmp_path, defect, compress):
    change, expected = DEFECTS[defect]
    manifest = write_run(tmp_path, compress)
    name = METADATA + (".gz" if compress else "")
    rewrite(tmp_path, manifest, name, change)

    problems = problems_of(tmp_path)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{name}: {expected}"), problems


def test_row_count_mismatch(tmp_path):
    manifest = write_run(tmp_path)
    manifest["files"][0]["rows"] = 4
    write_manifest(tmp_path, manifest)
    assert problems_of(tmp_path) == [f"{METADATA}: holds 3 records; {MANIFEST} says 4"]


def test_a_record_cut_in_two_is_a_field_count_and_row_count_problem(tmp_path):
    manifest = write_run(tmp_path)
    rewrite(tmp_path, manifest, METADATA, replace(b'"h.crm.s"|""|', b'"h.crm.s"\n""|'))
    assert problems_of(tmp_path) == [
        f"{METADATA}: line 5 (record 3): has 2 fields; expected 19, as many as the metadata header",
        f"{METADATA}: line 6 (record 4): has 17 fields; expected 19, as many as the metadata header",
        f"{METADATA}: holds 4 records; {MANIFEST} says 3",
    ]


def test_changed_content_is_a_sha256_mismatch(tmp_path):
    manifest = write_run(tmp_path)
    path = tmp_path / METADATA
    path.write_bytes(path.read_bytes().replace(b"h.dwh.s.t.c", b"h.dwh.s.t.x"))  # same size, same rows
    (problem,) = problems_of(tmp_path)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert problem == (f"{METADATA}: has SHA-256 {actual}; {MANIFEST} says {manifest['files'][0]['sha256']} "
                       "(the file changed after the run)")


def test_size_mismatch(tmp_path):
    manifest = write_run(tmp_path)
    manifest["files"][1]["bytes"] += 1
    write_manifest(tmp_path, manifest)
    size = (tmp_path / ROLES).stat().st_size
    assert problems_of(tmp_path) == [f"{ROLES}: is {size} bytes; {MANIFEST} says {size + 1}"]


def test_missing_file(tmp_path):
    write_run(tmp_path, compress=True)
    os.remove(tmp_path / (ROLES + ".gz"))
    assert problems_of(tmp_path) == [f"{ROLES}.gz: {MANIFEST} lists it but it is missing from the folder"]


def test_unlisted_file(tmp_path):
    write_run(tmp_path)
    other = "postgres_metadata_20250101000000.csv"
    (tmp_path / other).write_bytes((tmp_path / METADATA).read_bytes())
    report = validate_folder(tmp_path)
    assert report.problems == [
        f"{other}: no manifest lists it, so no completed run wrote it; delete it or re-run the collector"
    ]
    assert report.files_checked == 3  # its content is checked all the same


def test_leftovers_of_an_interrupted_run(tmp_path):
    write_run(tmp_path)
    interrupted = ExtractFile(str(tmp_path), "postgres", "privileges", STAMP, EXTRACT_COLUMNS["privileges"], False)
    interrupted.part("dwh").write(["PUBLIC", "CONNECT", "DATABASE", "h.dwh", "alice", False, "h", "dwh"])
    # ... and the process dies here: neither the part nor the file is finished.
    problems = problems_of(tmp_path)
    assert problems == [
        f".postgres_privileges_{STAMP}.csv.dwh.part: a temporary file: an interrupted run left it; delete it",
        f".postgres_privileges_{STAMP}.csv.tmp: a temporary file: an interrupted run left it; delete it",
    ]


def test_manifest_that_is_not_json(tmp_path):
    write_run(tmp_path)
    path = tmp_path / MANIFEST
    path.write_text(path.read_text()[:50])
    problems = problems_of(tmp_path)
    assert problems[0].startswith(f"{MANIFEST}: is not valid JSON (")
    # Without a readable manifest, its files are listed by none.
    unlisted = f"{METADATA}: no manifest lists it, so no completed run wrote it; delete it or re-run the collector"
    assert unlisted in problems


def test_window_end_not_the_stamp(tmp_path):
    manifest = write_run(tmp_path)
    manifest["window"]["end_hwm"] = "2026-01-03 00:00:00"
    write_manifest(tmp_path, manifest)
    assert problems_of(tmp_path) == [
        f"{MANIFEST}: the file name's stamp {STAMP} is not window.end_hwm 2026-01-03 00:00:00; "
        "expected 20260103000000"
    ]


def test_file_stamp_not_the_manifests(tmp_path):
    manifest = write_run(tmp_path)
    other = "postgres_roles_20260101000000.csv"
    os.rename(tmp_path / ROLES, tmp_path / other)
    manifest["files"][1]["name"] = other
    write_manifest(tmp_path, manifest)
    assert problems_of(tmp_path) == [
        f"{MANIFEST}: files[1]: {other} has stamp 20260101000000; expected the manifest's stamp {STAMP}"
    ]


def test_manifest_fields(tmp_path):
    manifest = write_run(tmp_path)
    del manifest["timings"]
    manifest["contract_version"] = 2
    manifest["window"]["start_hwm"] = "2026-1-1 00:00:00"
    manifest["status"] = "ok"
    manifest["files"][0]["sha256"] = "ABC"
    manifest["files"][1]["extract"] = "privileges"
    manifest["files"].append({"extract": "roles", "name": "../roles.csv", "rows": 0, "bytes": 0, "sha256": "0" * 64})
    write_manifest(tmp_path, manifest)
    problems = problems_of(tmp_path)
    for expected in [
        f"{MANIFEST}: the manifest has no 'timings'; expected an object there",
        f"{MANIFEST}: contract_version is 2; expected 1",
        f'{MANIFEST}: status is "ok"; expected one of succeeded, failed',
        f'{MANIFEST}: window.start_hwm is "2026-1-1 00:00:00"; expected UTC time formatted YYYY-MM-DD HH:MM:SS',
        f'{MANIFEST}: files[0]: sha256 is "ABC"; expected 64 lower-case hex digits',
        f"{MANIFEST}: files[1]: extract is 'privileges' but the name {ROLES} says 'roles'; expected the same",
        f"{MANIFEST}: files[2]: name '../roles.csv' is not an extract file name; "
        "expected <source>_<extract>_<YYYYMMDDHHMMSS>.csv or .csv.gz",
    ]:
        assert expected in problems, problems


def test_failed_database(tmp_path):
    manifest = write_run(tmp_path)
    manifest["databases"][1].update(status="failed", error="")
    write_manifest(tmp_path, manifest)
    assert problems_of(tmp_path) == [
        f'{MANIFEST}: databases[1] ("crm") failed without an error; expected an error saying why and what to do',
        f"{MANIFEST}: status is 'succeeded' but databases[1] (\"crm\") failed; expected 'failed'",
    ]
    manifest["status"] = "failed"
    manifest["databases"][1]["error"] = "permission denied for database crm: grant CONNECT to the collector's user"
    write_manifest(tmp_path, manifest)
    assert problems_of(tmp_path) == []


def test_duplicate_object_is_found_whichever_way_the_records_are_read(tmp_path):
    # The first TABLE row spans two lines (read field by field), the repeat is on one line (one regex match).
    databases = {
        "dwh": DATABASES["dwh"],
        "crm": {"metadata": [meta("TABLE", "h.dwh.s.t"), meta("TABLE", "h.dwh.s.t2")], "roles": []},
    }
    write_run(tmp_path, databases=databases)
    assert problems_of(tmp_path) == [
        f'{METADATA}: line 5 (record 3): (OBJECT_TYPE, OBJECT_ID) "TABLE"|"h.dwh.s.t" repeats an earlier '
        "record's; expected it unique in the file"
    ]


def test_same_id_of_another_type_or_in_another_extract_is_no_duplicate(tmp_path):
    databases = {"dwh": {
        "metadata": [meta("TABLE", "h.x"), meta("INDEX", "h.x")],
        "roles": [["USER", "h.alice", "alice", "a"], ["USER", "h.alice", "alice", "b"]],
    }}
    write_run(tmp_path, databases=databases)
    assert problems_of(tmp_path) == []


@pytest.mark.parametrize("compress", [False, True])
def test_a_repeated_record_is_found_in_any_extract(tmp_path, compress):
    # A roles record written twice by the second database: every extract is a set.
    databases = {**DATABASES, "crm": {**DATABASES["crm"], "roles": [["USER", "h.alice", "alice", "readers"]]}}
    write_run(tmp_path, compress, databases)
    roles = ROLES + (".gz" if compress else "")
    assert problems_of(tmp_path) == [
        f'{roles}: line 3 (record 2): "USER"|"h.alice"|"alice"|"readers" repeats an earlier record field for field; '
        "expected every record once (a roles file is a set)"
    ]


def test_a_broken_file_reports_at_most_the_cap(tmp_path):
    manifest = write_run(tmp_path)
    bad_records = b"".join(b"COLUMN|x\n" for _ in range(MAX_PROBLEMS_PER_FILE + 5))
    rewrite(tmp_path, manifest, METADATA, lambda text: text + bad_records)
    problems = [p for p in problems_of(tmp_path) if p.startswith(METADATA)]
    assert len(problems) == MAX_PROBLEMS_PER_FILE + 1
    assert problems[-1] == f"{METADATA}: ... and 6 more problems"  # 25 records + the row count


def test_truncated_gzip(tmp_path):
    manifest = write_run(tmp_path, compress=True)
    path = tmp_path / (METADATA + ".gz")
    path.write_bytes(path.read_bytes()[:-10])
    manifest["files"][0]["bytes"] = path.stat().st_size
    manifest["files"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_manifest(tmp_path, manifest)
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{METADATA}.gz: cannot be read as gzip (")
    assert problem.endswith("; expected a complete gzip stream of the CSV text")


def test_empty_file(tmp_path):
    manifest = write_run(tmp_path)
    rewrite(tmp_path, manifest, ROLES, lambda text: b"")
    assert problems_of(tmp_path) == [
        f"{ROLES}: is empty; expected at least the header line",
        f"{ROLES}: holds 0 records; {MANIFEST} says 1",
    ]


def test_folder_without_manifest(tmp_path):
    write_run(tmp_path)
    os.remove(tmp_path / MANIFEST)
    problems = problems_of(tmp_path)
    assert problems[0] == (f"{tmp_path}: no manifest (<source>_manifest_<YYYYMMDDHHMMSS>.json) found; "
                           "a run writes one last, so no run completed here")
    assert len(problems) == 3  # and both extracts are unlisted


def test_missing_folder(tmp_path):
    report = validate_folder(tmp_path / "nope")
    assert not report.ok
    assert report.problems == [
        f"{tmp_path / 'nope'}: no such folder; pass the folder the collector wrote its extracts to"
    ]


def test_manifest_is_json_the_writer_wrote(tmp_path):
    # The manifest helper really writes the documented shape (guards the tests above).
    write_run(tmp_path)
    document = json.loads((tmp_path / MANIFEST).read_text())
    assert [f["name"] for f in document["files"]] == [METADATA, ROLES]
    assert document["files"][0]["rows"] == 3
