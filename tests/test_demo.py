"""`kada-collector demo`: a newcomer's first run, on an embedded PostgreSQL."""

import subprocess
import sys
from pathlib import Path

from kada_collectors.lib.validate import validate_folder


def test_demo_extracts_validates_and_says_where(tmp_path):
    kada_collector = Path(sys.executable).parent / "kada-collector"
    result = subprocess.run([str(kada_collector), "demo", "--output", "demo-out"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    output = tmp_path / "demo-out"
    assert f"are in {output}" in result.stdout
    assert "materialized_view" in result.stdout and "kada_demo_collector" in result.stdout
    report = validate_folder(output)
    assert report.ok and report.files_checked == 5, report.problems
