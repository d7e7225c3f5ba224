"""``kada-collector report``: what a run would send, for people to inspect before it leaves.

``run.py`` finds and reads the run (hashing files as it streams them), ``model.py`` builds the
report's data in one pass, ``html.py`` renders it as one self-contained page (``static/`` holds
the page's template, style and script) and ``text.py`` as a terminal summary.
"""

import os

from .html import render_html
from .model import build_report
from .run import ReportError, open_run
from .text import summary_lines

__all__ = ["ReportError", "build_report", "open_run", "render_html", "summary_lines", "write_report"]


def write_report(folder, output=None, manifest_name=None, source=None):
    """Build the report of a run of ``folder`` (the newest, or ``manifest_name``'s).

    With ``output``, write the HTML page there (written aside, then renamed) and return its path;
    else return the terminal summary's lines.
    """
    data = build_report(open_run(folder, manifest_name, source))
    if output is None:
        return summary_lines(data)
    output = os.path.abspath(output)
    tmp = os.path.join(os.path.dirname(output), f".{os.path.basename(output)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render_html(data))
    os.replace(tmp, output)
    return output
