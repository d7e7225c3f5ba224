"""`kada-collector demo`: a newcomer's first run, on an embedded PostgreSQL."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kada_collectors.lib.validate import validate_folder


KADA_COLLECTOR = Path(sys.executable).parent / "kada-collector"


def demo(folder, cwd):
    return subprocess.run([str(KADA_COLLECTOR), "demo", "--output", folder], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow  # about 30 s on 2 cores: the demo, from an embedded server's start
def test_demo_extracts_validates_and_says_where(tmp_path):
    result = demo("demo-out", tmp_path)
    assert result.returncode == 0, result.stderr
    output = tmp_path / "demo-out"
    assert f"are in {output}" in result.stdout
    assert "1 materialized view," in result.stdout and "kada_demo_collector" in result.stdout
    assert re.search(r"\d+ columns, \d+ constraints", result.stdout), result.stdout
    report = validate_folder(output)
    assert report.ok and report.files_checked == 5, report.problems
    (manifest,) = output.glob("*_manifest_*.json")
    server = json.loads(manifest.read_text(encoding="utf-8"))["settings"]["server"]
    assert re.fullmatch(r"the demo's embedded PostgreSQL \d+\.\d+ \(removed when the demo ended\)", server), server
    assert not [f.name for f in output.iterdir() if "kada-demo-" in f.read_text(errors="replace")], "no temporary path"

    again = demo("demo-out", tmp_path)  # a second demo replaces the first one's files
    assert again.returncode == 0, again.stderr
    assert f"removed the earlier demo's files from {output}" in again.stdout
    assert len(list(output.glob("*_manifest_*.json"))) == 1 and validate_folder(output).files_checked == 5


def test_demo_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = demo("mine", tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "is not empty and no demo wrote it: choose another folder with --output" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
