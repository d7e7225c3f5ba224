"""``kada-collector report``: what a run would send, for people to inspect before it leaves.

``run.py`` finds and reads the run (hashing files as it streams them), ``model.py`` builds the
report's data in one pass, ``html.py`` renders it as one self-contained page (``static/`` holds
the page's template, style and script) and ``text.py`` as a terminal summary.
"""

import os
from dataclasses import dataclass
from typing import Optional

from kada_collectors.lib.files import atomic_write

from .html import render_html
from .model import build_report
from .run import ReportError, open_run
from .text import summary_lines

__all__ = ["ReportError", "build_report", "open_run", "render_html", "summary_lines", "write_report", "WrittenReport"]


@dataclass
class WrittenReport:
    output: Optional[str]  # the page's path, when one was asked for
    lines: Optional[list]  # else the terminal summary
    problems: list  # "name: what" for each file that does not match the manifest (the report shows what it could read)


def write_report(folder, output=None, manifest_name=None, source=None) -> WrittenReport:
    """Build the report of a run of ``folder`` (the newest, or ``manifest_name``'s): the HTML page
    at ``output`` (written aside, then renamed), or the terminal summary's lines."""
    data = build_report(open_run(folder, manifest_name, source))
    problems = [f"{f['name']}: {f['check']}" for f in data["files"] if f["check"] != "ok"]
    if output is None:
        return WrittenReport(None, summary_lines(data), problems)
    output = atomic_write(os.path.abspath(output), render_html(data))
    return WrittenReport(output, None, problems)
