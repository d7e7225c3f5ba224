"""The report as a terminal summary: files, objects per kind, changes, warnings, failed databases."""

from collections import Counter


def _size(count):
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


def summary_lines(data):
    """The summary of the report ``data`` (model.build_report), as lines of text."""
    run, kinds = data["run"], data["kinds"]
    window = run.get("window") or {}
    lines = [(f"{run['manifest']}: host {run.get('host')}, window {window.get('start_hwm')} to "
              f"{window.get('end_hwm')} (UTC), {run.get('status')}"), "", "files that would leave:"]
    width = max(len(f["name"]) for f in data["files"])
    for f in data["files"]:
        rows = f"{f['rows']:>11,} rows" if f["rows"] is not None else " " * 16
        lines.append(f"  {f['name']:<{width}}  {rows}  {_size(f['bytes']):>9}  sha256 {f['sha256'][:12]}…  "
                     f"{f['check']}")
    per_kind, per_database = Counter(), Counter()
    for database, _, kind, n in data["counts"]:
        per_kind[kinds[kind]] += n
        per_database[database] += n
    lines += ["", f"objects: {sum(per_kind.values()):,}"]
    lines += [f"  {kind.lower():<25} {n:>11,}" for kind, n in sorted(per_kind.items())]  # text_search_configuration
    if len(per_database) > 1:
        lines.append("  per database: " + ", ".join(f"{db} {n:,}" for db, n in sorted(per_database.items())))
    events = Counter()
    for event, _, _, n in data["events"]["counts"]:
        events[event] += n
    lines += ["", "changes in the window: " + (", ".join(
        f"{events[e]:,} {e.lower()}" for e in ("CREATED", "ALTERED", "DROPPED", *sorted(set(events) - {
            "CREATED", "ALTERED", "DROPPED"}))) if events else "none")]
    altered = Counter()
    for event, kind, _, n in data["events"]["counts"]:
        if event in ("ALTERED", "DROPPED"):
            altered[f"{event.lower()} {kinds[kind].lower()}"] += n
    if altered:
        lines.append("  " + ", ".join(f"{n:,} {what}" for what, n in sorted(altered.items())))
    links = data["links"]["counts"]
    lines.append(f"links: {sum(links.values()):,}" + (" (" + ", ".join(
        f"{label.lower()} {n:,}" for label, n in sorted(links.items())) + ")" if links else ""))
    query_log = data["query_log"]
    lines.append(f"query log: {query_log['total']:,} records, {query_log['masked']:,} masked" if query_log["present"]
                 else f"query log: none ({query_log['why']})")
    lines += _usage_lines(data["usage"]) + _profile_lines(data["profile"])
    failed = [d for d in data["databases"] if d.get("status") == "failed"]
    lines += ["", f"failed databases: {len(failed)}"]
    lines += [f"  {d.get('name')}: {d.get('error')}" for d in failed]
    lines.append(f"warnings: {len(data['warnings'])}")
    lines += [f"  {w}" for w in data["warnings"]]
    return lines


TOP = 5  # entries of each usage list in the terminal


def _usage_lines(usage):
    """The top five of each usage list (report/statistics.py)."""
    if not usage["present"]:
        return ["usage: none (the run wrote no usage file)"]
    marks = ", ".join(f"{n:,} {mark.lower()}" for mark, n in sorted(usage["baselines"].items()))
    lines = ["", f"usage in the window ({marks}):"]
    for title, key, show in (("most read tables (rows read)", "read", lambda r: f"{r[1]:,}"),
                             ("most written tables (rows written)", "written", lambda r: f"{r[2]:,}"),
                             ("functions by calls", "functions", lambda r: f"{r[1]:,} calls"),
                             ("tables not touched", "untouched_tables", None),
                             ("indexes not scanned", "unscanned_indexes", None)):
        part = usage[key]
        lines.append(f"  {title}: {part['total']:,}")
        lines += [f"    {row}" if show is None else f"    {row[0]}  {show(row)}" for row in part["rows"][:TOP]]
    return lines


def _profile_lines(profile):
    if not profile["present"]:
        return ["profile: none (the run wrote no profile file)"]
    profiled = sum(1 for t in profile["tables"].values() if t["columns"])
    unchanged = sum(1 for t in profile["tables"].values() if not t["included"])
    return [f"profile: {len(profile['tables']):,} tables, {profiled:,} with column statistics "
            f"({profile['columns'] + profile['omitted']:,} columns)"
            + (f", {unchanged:,} not analysed in the window (their columns are in earlier files)" if unchanged else "")]
