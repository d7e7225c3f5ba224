"""`kada-collector report`: the terminal summary, and the HTML page rendered in headless Chromium.

Two runs are reported on: the demo's (a real extraction of the sample database) and a small run
written here with the real writer that has what a demo's first run lacks: altered and dropped
objects, a query log, a failed database, gzip files. The page is checked as Chromium renders it
(its DOM after the scripts ran, clicks and typing through the DevTools protocol); a screenshot of
each page is kept in test-artifacts/report/.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from browser import BrowserUnavailable, Chromium, find_or_install_chromium
from fix_runs import write_run
from kada_collectors.extractors.report import build_report, open_run, render_html
from kada_collectors.lib.contract import EXTRACT_COLUMNS, manifest_file_name
from kada_collectors.lib.validate import validate_folder

KADA_COLLECTOR = Path(sys.executable).parent / "kada-collector"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts" / "report"
HOST = "h.example"
STAMP = "20260102000000"


def kada_collector(*args, cwd=None):
    return subprocess.run([str(KADA_COLLECTOR), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


# -- a small run with every section filled ---------------------------------------------------------

def meta(kind, object_id, parent="", schema="sales", name="", column="", **values):
    row = dict.fromkeys(EXTRACT_COLUMNS["metadata"], "")
    row.update(OBJECT_TYPE=kind, OBJECT_ID=object_id, PARENT_ID=parent, HOST=HOST, DATABASE_NAME="dwh",
               SCHEMA_NAME=schema, OBJECT_NAME=name, COLUMN_NAME=column, PROPERTIES="{}")
    row.update({k.upper(): v for k, v in values.items()})
    return [row[c] for c in EXTRACT_COLUMNS["metadata"]]


DB, SALES = f"{HOST}.dwh", f"{HOST}.dwh.sales"
ORDERS, AWKWARD, VIEW = f"{SALES}.orders", f'{SALES}."Order ""EU"""', f"{SALES}.v_orders"
CITEXT = f"{HOST}.dwh.public.citext"  # a type of an extension: not in metadata
SECRET_QUERY = "SELECT * FROM sales.orders WHERE card = ?"
SMALL_RUN = {
    "metadata": [
        meta("DATABASE", DB, schema="", name="dwh", owner="postgres"),
        meta("SCHEMA", SALES, DB, name="sales", owner="etl"),
        # Counts past 2^32: the page's integer packing must not use 32-bit arithmetic.
        meta("TABLE", ORDERS, SALES, name="orders", owner="etl", row_count="3000000000", size_bytes="5497558138880",
             description="Every order <b>ever</b>"),
        meta("COLUMN", f"{ORDERS}.id", ORDERS, name="orders", column="id", data_type="bigint", is_nullable="N"),
        meta("COLUMN", f"{ORDERS}.amount", ORDERS, name="orders", column="amount", data_type="numeric(12,2)"),
        # A CHECK constraint named like a column: the same OBJECT_ID, another kind.
        meta("CONSTRAINT", f"{ORDERS}.amount", ORDERS, name="amount", definition="CHECK (amount > 0)"),
        meta("INDEX", f"{SALES}.orders_pkey", ORDERS, name="orders_pkey", owner="etl", size_bytes="16384"),
        meta("TABLE", AWKWARD, SALES, name='Order "EU"', owner="etl"),
        meta("COLUMN", f"{AWKWARD}.amount", AWKWARD, name='Order "EU"', column="amount", data_type="numeric"),
        meta("VIEW", VIEW, SALES, name="v_orders", owner="analyst"),
        meta("COLUMN", f"{VIEW}.total", VIEW, name="v_orders", column="total", data_type="numeric"),
    ],
    "linkages": [
        ["LINEAGE", "COLUMN", f"{ORDERS}.amount", "COLUMN", f"{VIEW}.total", HOST, "dwh", "PARSED_DEFINITION",
         '{"transform":"expression"}'],
        ["LINEAGE", "COLUMN", f"{AWKWARD}.amount", "COLUMN", f"{VIEW}.total", HOST, "dwh", "PARSED_DEFINITION",
         '{"transform":"expression"}'],
        ["LINEAGE", "TABLE", ORDERS, "VIEW", VIEW, HOST, "dwh", "CATALOG", '{"read":"table"}'],
        ["USES_TYPE", "COLUMN", f"{ORDERS}.id", "TYPE", CITEXT, HOST, "dwh", "CATALOG", '{"extension":"citext"}'],
    ],
    "events": [
        ["2026-01-02 00:00:00", "ALTERED", "TABLE", ORDERS, HOST, "dwh", "", "SNAPSHOT_DIFF",
         '{"changed":["OWNER","DESCRIPTION"]}'],
        ["2026-01-02 00:00:00", "ALTERED", "COLUMN", f"{ORDERS}.amount", HOST, "dwh", "", "SNAPSHOT_DIFF",
         '{"changed":["DATA_TYPE"]}'],
        ["2026-01-02 00:00:00", "CREATED", "VIEW", VIEW, HOST, "dwh", "", "SNAPSHOT_DIFF", ""],
        ["2026-01-02 00:00:00", "DROPPED", "TABLE", f"{SALES}.old_orders", HOST, "dwh", "", "SNAPSHOT_DIFF", ""],
    ],
    "privileges": [
        ["PUBLIC", "SELECT", "VIEW", VIEW, "analyst", "N", HOST, "dwh"],
        ["analyst", "SELECT", "TABLE", ORDERS, "etl", "N", HOST, "dwh"],
        ["analyst", "SELECT", "TABLE", AWKWARD, "etl", "N", HOST, "dwh"],
        ["etl", "INSERT", "TABLE", ORDERS, "etl", "Y", HOST, "dwh"],
    ],
    "roles": [["USER", f"{HOST}.analyst", "analyst", "readers"], ["ROLE", f"{HOST}.etl", "etl", ""]],
    "databaselog": [
        ["q1", "pg_stat_statements", HOST, "dwh", "analyst", "psql", "2026-01-01 10:00:00", "2026-01-01 10:00:01",
         "12.5", "3", "30", "SELECT", SECRET_QUERY, "Y", ""],
        ["q2", "pg_stat_statements", HOST, "dwh", "etl", "loader", "2026-01-01 11:00:00", "2026-01-01 11:00:02",
         "900", "1", "1200", "INSERT", "INSERT INTO sales.orders VALUES (?, ?)", "Y", ""],
    ],
}


FAILED = {"crm": "permission denied for database crm: GRANT CONNECT to the user"}
WARNINGS = ("database 'dwh': 1 routine(s) run dynamic SQL (EXECUTE): their lineage is incomplete",)


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    write_run(folder, {"dwh": SMALL_RUN}, compress=True, host=HOST, failed=FAILED, warnings=WARNINGS)
    report = validate_folder(folder)
    assert report.ok, report.problems  # the run itself is as the contract says
    return folder


# -- the data and the terminal summary -----------------------------------------------------------

def test_model_of_a_compressed_run(small_run):
    data = build_report(open_run(small_run))
    assert [f["check"] for f in data["files"]] == ["ok"] * 7 and data["files"][-1]["extract"] == "manifest"
    assert {f["name"].endswith(".csv.gz") for f in data["files"][:-1]} == {True}
    kinds = data["kinds"]
    per_kind = Counter()
    for _, _, kind, n in data["counts"]:
        per_kind[kinds[kind]] += n
    assert per_kind == {"DATABASE": 1, "SCHEMA": 1, "TABLE": 2, "COLUMN": 4, "CONSTRAINT": 1, "INDEX": 1, "VIEW": 1}
    objects = data["objects"]
    assert objects["metadata"] == 11 and objects["count"] == 12  # the extension's type is added for its edge
    assert {(e[0], e[1], n) for e in data["events"]["counts"] for n in [e[3]]} == {
        ("ALTERED", kinds.index("TABLE"), 1), ("ALTERED", kinds.index("COLUMN"), 1),
        ("CREATED", kinds.index("VIEW"), 1), ("DROPPED", kinds.index("TABLE"), 1)}
    assert data["events"]["fields"] == ["OWNER", "DESCRIPTION", "DATA_TYPE"]
    assert data["events"]["unmatched"] == [["D", kinds.index("TABLE"), f"{SALES}.old_orders"]]
    grantees = {g["grantee"]: g for g in data["privileges"]["grantees"]}
    assert grantees["analyst"]["objects"] == 2 and grantees["etl"]["grantable"] == 1
    log = data["query_log"]
    assert log["present"] and log["total"] == 2 and log["masked"] == 2
    assert log["sample"][0][log["columns"].index("QUERY_TEXT")] == SECRET_QUERY


def test_terminal_summary(small_run):
    result = kada_collector("report", small_run)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{manifest_file_name('postgres', STAMP)}: host {HOST}" in out and out.count(" ok\n") == 7
    assert re.search(r"postgres_metadata_\d{14}\.csv\.gz\s+11 rows", out)
    assert re.search(r"column\s+4\n", out) and re.search(r"table\s+2\n", out)
    assert "changes in the window: 1 created, 2 altered, 1 dropped" in out
    assert "1 altered column, 1 altered table, 1 dropped table" in out
    assert "query log: 2 records, 2 masked" in out
    assert "failed databases: 1\n  crm: permission denied for database crm" in out
    assert "warnings: 1\n  database 'dwh': 1 routine(s) run dynamic SQL" in out


def test_a_file_changed_or_missing_after_the_run_is_flagged(small_run):
    metadata = next(small_run.glob("postgres_metadata_*"))
    with open(metadata, "ab") as f:
        f.write(b"\0")
    next(small_run.glob("postgres_roles_*")).unlink()
    checks = {f["extract"]: f["check"] for f in build_report(open_run(small_run))["files"]}
    assert "SHA-256 differs" in checks["metadata"] and "bytes, the manifest says" in checks["metadata"]
    assert checks["roles"] == "missing from the folder"
    assert checks["linkages"] == "ok"


def test_a_malformed_record_is_left_out_and_named_with_exit_1(tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    write_run(folder, {"dwh": SMALL_RUN}, host=HOST, warnings=WARNINGS)
    roles = next(folder.glob("postgres_roles_*"))
    header, first, *rest = roles.read_bytes().split(b"\n")
    roles.write_bytes(b"\n".join([header, first.rsplit(b"|", 1)[0], *rest]))  # its last field cut off
    result = kada_collector("report", folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{roles.name}: " in result.stderr and "1 record(s) without the header's fields (the first: record 1)" \
        in result.stderr and "kada-collector validate" in result.stderr
    assert "objects: " in result.stdout, "what could be read is still shown"
    page = tmp_path / "damaged.html"
    result = kada_collector("report", folder, "--output", page)
    assert result.returncode == 1 and page.is_file() and "Traceback" not in result.stderr


def test_newest_run_by_default_another_with_manifest(small_run):
    write_run(small_run, {"dwh": {"metadata": SMALL_RUN["metadata"][:2]}}, stamp="20251231000000", host=HOST,
              warnings=WARNINGS)
    older = manifest_file_name("postgres", "20251231000000")
    assert "11 rows" in kada_collector("report", small_run).stdout
    result = kada_collector("report", small_run, "--manifest", older)
    assert result.returncode == 0 and older in result.stdout and "objects: 2" in result.stdout


def test_no_run_is_a_clear_error(tmp_path):
    result = kada_collector("report", tmp_path)
    assert result.returncode == 2
    assert "holds no manifest" in result.stderr and "Traceback" not in result.stderr


def test_page_references_nothing_outside(small_run):
    page = render_html(build_report(open_run(small_run)))
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", page, re.IGNORECASE), \
        "a src or href with a scheme or a network path"
    assert not re.search(r"@import|url\(\s*['\"]?(?!data:)", page, re.IGNORECASE), "CSS that loads something"
    assert not re.search(r"<(?:link|iframe|object|embed|img|base)\b", page, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>)]*", page)) <= {"http://www.w3.org/2000/svg"}  # a namespace name
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Text of the run cannot end the data's script element: "<" is escaped inside it.
    assert "Every order <b>ever</b>" not in page and "Every order \\u003cb>ever\\u003c/b>" in page


# -- in the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium, installed with apt-get on first use when missing (as root)."""
    try:
        executable = find_or_install_chromium()
    except BrowserUnavailable as e:
        pytest.skip(f"no browser to render the report: {e}")
    browser = Chromium(executable)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> tuple[Path, Path]:
    """The demo's run (an embedded PostgreSQL, about 2 s) and its report page."""
    work = tmp_path_factory.mktemp("report-demo")
    result = kada_collector("demo", "--output", "demo-out", cwd=work)
    assert result.returncode == 0, result.stderr
    result = kada_collector("report", "demo-out", "--output", "report.html", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {work / 'report.html'}"
    return work / "demo-out", work / "report.html"


def open_page(chromium, page_path: Path, fragment: str = ""):
    page = chromium.open(page_path.as_uri() + fragment)
    page.wait_for("document.documentElement.dataset.ready === '1'")
    return page


def rows_of(folder: Path, extract: str) -> list[dict]:
    with open(next(folder.glob(f"postgres_{extract}_*.csv")), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="|"))


def outside_metadata(folder: Path) -> set[tuple[str, str]]:
    """The objects links point at that metadata does not list (an extension's member, a remote
    table), as the object table shows them."""
    listed = {(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in rows_of(folder, "metadata")}
    ends = {(r[f"{end}_TYPE"], r[f"{end}_ID"]) for r in rows_of(folder, "linkages") for end in ("SOURCE", "TARGET")}
    return {(f"{kind} (not in metadata)", object_id) for kind, object_id in ends - listed}


def click(page, selector: str):
    """A real mouse click in the middle of the element (scrolled into view first)."""
    x, y = page.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
    for kind in ("mousePressed", "mouseReleased"):
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def cells(page, rows: str) -> list[list[str]]:
    """The text of each cell of each table row the selector matches, as rendered."""
    return page.evaluate(f"[...document.querySelectorAll({json.dumps(rows)})]"
                         ".map(r => [...r.cells].map(c => c.textContent))")


def type_into(page, selector: str, text: str):
    """Type ``text`` into a field, replacing what it holds (as a user selecting it all, then typing)."""
    page.evaluate(f"(e => {{ e.focus(); e.select(); }})(document.querySelector({json.dumps(selector)}))")
    page.send("Input.insertText", {"text": text})


def test_demo_report_renders_counts_events_and_objects(chromium, demo_report):
    folder, page_path = demo_report
    page = open_page(chromium, page_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "demo-report.png")
    metadata = rows_of(folder, "metadata")
    kinds = Counter(r["OBJECT_TYPE"] for r in metadata)
    # The counts table: its header holds the kinds, the "every database" line their totals.
    header, totals = cells(page, "#counts-table thead tr")[0], cells(page, "#counts-table tbody tr:last-child")[0]
    assert totals[0] == "every database"
    assert {kind: int(totals[header.index(kind)]) for kind in kinds} == kinds
    assert int(totals[-1]) == len(metadata)
    # The events: a first run, every object created, listed.
    assert ["all kinds", str(len(metadata)), "0", "0"] in cells(page, "#events-summary tbody tr")
    assert page.evaluate("document.getElementById('events-filter').value") == "C"
    assert len(cells(page, "#events-table tbody tr")) == 100
    # The object table: its first page (test_every_object_id_decodes_as_written reads them all).
    assert len(cells(page, "#objects-table tbody tr")) == 100
    assert f"1–100 of {len(metadata) + len(outside_metadata(folder))}" in page.evaluate("document.querySelector('#objects .range').textContent")
    files = cells(page, "#files tbody tr")
    assert len(files) == 6 and [f[5] for f in files] == ["ok"] * 6
    assert "No query log in this run" in page.evaluate("document.getElementById('querylog').textContent")
    grantees = page.evaluate("[...document.querySelectorAll('#privileges-table tbody td:first-child')]"
                             ".map(td => td.firstChild.textContent)")  # the name, not the kinds under it
    assert set(grantees) == {r["GRANTEE"] for r in rows_of(folder, "privileges")}
    assert page.errors() == [] and page.requested_urls() == [page_path.as_uri()]


def test_every_object_id_decodes_as_written(chromium, demo_report):
    folder, page_path = demo_report
    page = open_page(chromium, page_path)
    # Walk every page of the object table (100 rows each) by the "next" button.
    seen, pages = [], 0
    while True:
        seen += [(row[0], row[1]) for row in cells(page, "#objects-table tbody tr")]
        pages += 1
        if page.evaluate("document.querySelector('#objects .pager button:last-child').disabled"):
            break
        page.evaluate("document.querySelector('#objects .pager button:last-child').click()")
    metadata = rows_of(folder, "metadata")
    outside = outside_metadata(folder)
    assert pages == -(-(len(metadata) + len(outside)) // 100)
    assert sorted(seen) == sorted([(r["OBJECT_TYPE"], r["OBJECT_ID"]) for r in metadata] + list(outside))


def test_search_filters_the_object_table(chromium, demo_report):
    _, page_path = demo_report
    page = open_page(chromium, page_path)
    type_into(page, "#object-search", "SALES.ORDERS.")
    page.wait_for("/match/.test(document.querySelector('#objects .controls .hint').textContent)")
    ids = [row[1] for row in cells(page, "#objects-table tbody tr")]
    assert ids and all("sales.orders." in i for i in ids)  # case-insensitive, anywhere in the ID
    assert any(i.endswith("sales.orders.order_date") for i in ids)


def test_lineage_is_drawn_and_recentres_on_click(chromium, demo_report):
    _, page_path = demo_report
    column = '"demo.postgres.localhost".kada_demo.sales.orders.order_date'
    page = open_page(chromium, page_path, f"#lineage={column}&kind=COLUMN")
    nodes = page.evaluate("[...document.querySelectorAll('#lineage-svg g.node')]"
                          ".map(g => [g.dataset.id, g.classList.value])")
    centre = [node for node, cls in nodes if "center" in cls]
    assert centre == [column]
    ids = {node for node, _ in nodes}
    target = '"demo.postgres.localhost".kada_demo.analytics.mv_daily_sales.sales_date'  # a view's column
    assert target in ids
    assert page.evaluate("document.querySelectorAll('#lineage-svg path.edge').length") >= len(ids) - 1
    # Downstream is drawn right of the chosen object.
    x = page.evaluate("""Object.fromEntries([...document.querySelectorAll('#lineage-svg g.node')].map(
        g => [g.dataset.id, g.transform.baseVal[0].matrix.e]))""")
    assert x[target] > x[column]
    page.screenshot(ARTIFACTS / "demo-lineage.png", full_page=False)
    # A click on a drawn object centres the drawing on it.
    click(page, f'#lineage-svg g.node[data-id={json.dumps(target)}]')
    page.wait_for(f"document.querySelector('#lineage-svg g.node.center').dataset.id === {json.dumps(target)}")
    assert "MATERIALIZED_VIEW" not in page.evaluate("document.getElementById('lineage-caption').textContent")
    assert column in page.evaluate("[...document.querySelectorAll('#lineage-svg g.node')].map(g => g.dataset.id)")
    assert page.errors() == []


def test_small_run_page_shows_changes_query_log_and_failures(chromium, small_run, tmp_path):
    result = kada_collector("report", small_run, "-o", tmp_path / "small.html")
    assert result.returncode == 0, result.stderr
    page = open_page(chromium, tmp_path / "small.html", f"#lineage={ORDERS}&kind=TABLE")
    page.screenshot(ARTIFACTS / "small-run-report.png")
    text = page.evaluate("document.body.innerText")
    assert "crm: permission denied for database crm: GRANT CONNECT to the user" in text
    assert "1 routine(s) run dynamic SQL" in text
    # Altered (with the fields) and dropped objects are listed first.
    events = cells(page, "#events-table tbody tr")
    assert ["ALTERED", "TABLE", f"{ORDERS} lineage", "OWNER, DESCRIPTION"] in events
    assert ["ALTERED", "COLUMN", f"{ORDERS}.amount lineage", "DATA_TYPE"] in events
    assert ["DROPPED", "TABLE", f"{SALES}.old_orders", ""] in events and len(events) == 3
    # The query log as it will be sent: masked texts.
    log = cells(page, "#querylog-table tbody tr")
    assert len(log) == 2 and SECRET_QUERY in log[0]
    # A table's lineage with its columns' edges: the view downstream, the extension's type too.
    ids = page.evaluate("[...document.querySelectorAll('#lineage-svg g.node')].map(g => g.dataset.id)")
    assert set(ids) == {ORDERS, VIEW, CITEXT}
    # The awkward name, decoded with its quotes; HTML in a comment shown as text.
    type_into(page, "#object-search", '"order ""eu"""')
    page.wait_for("/match/.test(document.querySelector('#objects .controls .hint').textContent)")
    assert [row[1] for row in cells(page, "#objects-table tbody tr")] == [AWKWARD, f"{AWKWARD}.amount"]
    type_into(page, "#object-search", "sales.orders")
    page.wait_for("document.querySelector('#objects-table tbody td:nth-child(2)').textContent.endsWith('.orders')")
    orders = cells(page, "#objects-table tbody tr")[0]
    assert orders[:5] == ["TABLE", ORDERS, "etl", "3,000,000,000", "5.0 TB"]
    assert "Every order <b>ever</b>" in text and page.evaluate("document.querySelectorAll('main b').length") == 0
    assert page.errors() == []
