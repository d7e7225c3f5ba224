"""The HWM helpers of kada_collectors.extractors.utils, as the wrapper script uses them."""

import os
from datetime import datetime, timedelta, timezone

import pytest

from kada_collectors.extractors.utils import BEGINNING_OF_TIME, get_hwm, publish_hwm
from kada_collectors.lib.errors import HWMError

FORMAT = "%Y-%m-%d %H:%M:%S"


def test_first_run_starts_at_the_beginning_and_ends_now(tmp_path):
    start, end = get_hwm("postgres", str(tmp_path))
    assert start == BEGINNING_OF_TIME == "1970-01-01 00:00:00"
    moment = datetime.strptime(end, FORMAT).replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - moment) < timedelta(seconds=5)
    assert not (tmp_path / "postgres_hwm.txt").exists(), "reading never creates the file"


def test_publish_then_get_round_trip(tmp_path):
    path = publish_hwm("postgres", "2026-03-01 12:30:00", str(tmp_path))
    assert path == str(tmp_path / "postgres_hwm.txt")
    assert (tmp_path / "postgres_hwm.txt").read_text() == "2026-03-01 12:30:00\n"
    start, _ = get_hwm("postgres", str(tmp_path))
    assert start == "2026-03-01 12:30:00"
    assert [p.name for p in tmp_path.iterdir()] == ["postgres_hwm.txt"], "no temp file left behind"


def test_default_folder_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    publish_hwm("nightly", "2026-03-01 00:00:00")
    assert (tmp_path / "nightly_hwm.txt").exists()
    assert get_hwm("nightly")[0] == "2026-03-01 00:00:00"


@pytest.mark.parametrize("bad", ["2026-13-01 00:00:00", "yesterday", "2026-03-01", "", None, 12])
def test_publish_refuses_a_malformed_value_and_keeps_the_old_one(tmp_path, bad):
    publish_hwm("postgres", "2026-03-01 00:00:00", str(tmp_path))
    with pytest.raises(HWMError, match="YYYY-MM-DD HH:MM:SS"):
        publish_hwm("postgres", bad, str(tmp_path))
    assert get_hwm("postgres", str(tmp_path))[0] == "2026-03-01 00:00:00"


@pytest.mark.parametrize("content", ["garbage\n", "2026-03-01T00:00:00Z", "", "\x00\x01"])
def test_a_corrupt_file_is_an_error_naming_file_and_format(tmp_path, content):
    path = tmp_path / "postgres_hwm.txt"
    path.write_text(content)
    with pytest.raises(HWMError) as caught:
        get_hwm("postgres", str(tmp_path))
    assert str(path) in str(caught.value) and "YYYY-MM-DD HH:MM:SS" in str(caught.value)


def test_bytes_that_are_not_text_are_a_corrupt_file_not_a_permissions_problem(tmp_path):
    path = tmp_path / "postgres_hwm.txt"
    path.write_bytes(b"\xff\xfe2026-03-01\x80")
    with pytest.raises(HWMError) as caught:
        get_hwm("postgres", str(tmp_path))
    message = str(caught.value)
    assert f"HWM file {path} is corrupt" in message and "not UTF-8" in message
    assert "'YYYY-MM-DD HH:MM:SS'" in message and "permissions" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_an_error(tmp_path):
    path = tmp_path / "postgres_hwm.txt"
    path.write_text("2026-03-01 00:00:00\n")
    path.chmod(0)
    with pytest.raises(HWMError, match="cannot read HWM file"):
        get_hwm("postgres", str(tmp_path))


def test_a_folder_in_place_of_the_file_is_an_error(tmp_path):
    (tmp_path / "postgres_hwm.txt").mkdir()
    with pytest.raises(HWMError, match="cannot read HWM file"):
        get_hwm("postgres", str(tmp_path))


@pytest.mark.parametrize("prefix", ["../escape", "a/b", "", None])
def test_a_prefix_cannot_be_a_path(tmp_path, prefix):
    with pytest.raises(HWMError, match="invalid HWM prefix"):
        get_hwm(prefix, str(tmp_path))
