"""The report as one HTML file: the template with its CSS, script and data inlined.

Nothing is referenced from outside (the page is opened on machines that may reach nothing), and
a Content-Security-Policy in the page forbids fetching anything should some text try to.
"""

import html
import json
import re
from importlib import resources

_PLACEHOLDER = re.compile(r"\{\{(title|manifest|style|script|data)\}\}")


def _static(name):
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


def render_html(data):
    """The page for the report ``data`` (model.build_report)."""
    run = data["run"]
    window = run.get("window") or {}
    title = f"Collector report: {run.get('host')}, run ending {window.get('end_hwm', '?')} UTC"
    # "<" escaped so that no text in the data can end the script element ("</script>") or open a comment.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    values = {"title": html.escape(title), "manifest": html.escape(run["manifest"]), "style": _static("report.css"),
              "script": _static("report.js"), "data": payload}
    # One pass, so that a placeholder inside the data or the script is never replaced in turn.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _static("report.html"))
