"""lib/files.py's atomic_write: readers see the old file or the new one, and no temporary file stays."""

import pytest

from kada_collectors.lib.files import atomic_write


def test_text_bytes_and_a_writer_replace_the_file_whole(tmp_path):
    target = tmp_path / "page.html"
    assert atomic_write(str(target), "première\n") == str(target)
    assert target.read_text(encoding="utf-8") == "première\n"
    atomic_write(str(target), b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    atomic_write(str(target), lambda f: f.write(b"streamed"), binary=True, unique=True, suffix="part")
    assert target.read_bytes() == b"streamed"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"], "no temporary file left behind"


@pytest.mark.parametrize("unique", [False, True])
def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path, unique):
    target = tmp_path / "postgres_hwm.txt"
    target.write_text("2026-01-01 00:00:00\n")

    def half(f):
        f.write("2026-02")
        raise KeyboardInterrupt  # an interrupt half-way counts as any failure

    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(target), half, unique=unique)
    assert target.read_text() == "2026-01-01 00:00:00\n"
    assert [p.name for p in tmp_path.iterdir()] == ["postgres_hwm.txt"]


def test_a_missing_folder_is_the_callers_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(str(tmp_path / "absent" / "x.json"), "{}")
    assert list(tmp_path.iterdir()) == []
