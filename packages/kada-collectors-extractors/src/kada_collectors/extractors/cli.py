"""Command lines: ``kada-postgres-extractor`` (the scheduled job) and ``kada-collector`` (tools).

``kada-collector push`` sends the newest run of ``output_path`` to the config's landing area;
``kada-collector run`` is the whole job in one command: HWM, extract, validate, push, publish the
HWM (the job itself is ``job.py``; this module parses, prints and exits). Their exit codes
(docs/landing.md) tell a scheduler what to do.
"""

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import List, Optional

from kada_collectors.lib.config import validate_settings
from kada_collectors.lib.errors import CollectorError, ConfigError
from kada_collectors.lib.landing import ALREADY_LANDED, LANDED, HWMConflict, LandingError, NothingToPush, push_run
from kada_collectors.lib.redact import redact_credentials
from kada_collectors.lib.validate import validate_folder

from .job import JobResult, load_job, open_job_landing, run_extractor, run_job
from .postgres.extractor import SOURCE
from .postgres.settings import SETTINGS
from .progress import Progress
from .utils import get_generic_logger, load_config

# Exit codes: 0 done; 1 the extraction failed (HWM not published); 2 bad input (config, HWM file,
# usage, a missing optional package); 3 nothing pushable (no run, a run that fails its checks, a
# failed run); 4 the landing failed (unreachable, credentials refused, no bucket/container, a file
# that did not land); 5 another run moved the landing HWM meanwhile (this run's files landed); 6 another
# run holds the output folder or the snapshot file (this run did nothing); 143 stopped by SIGTERM.
# An error's code is its class's ``exit_code`` (lib/errors.py, lib/landing/errors.py).
EXIT_FAILED, EXIT_BAD_INPUT = CollectorError.exit_code, ConfigError.exit_code
EXIT_NOT_PUSHABLE, EXIT_LANDING_FAILED, EXIT_HWM_CONFLICT = (NothingToPush.exit_code, LandingError.exit_code,
                                                             HWMConflict.exit_code)
DEFAULT_CONFIG = "kada_postgres_extractor_config.json"

log = logging.getLogger("kada_collectors.cli")


# -- exit codes and the summary ---------------------------------------------------------------------

def exit_code(error: CollectorError) -> int:
    """The documented exit code of an error: its class says it (``CollectorError.exit_code``), for
    these commands as for the wrapper script."""
    return error.exit_code


def _push_lines(report):
    landed, already = report.count(LANDED), report.count(ALREADY_LANDED)
    line = (f"{landed + already} of {len(report.files)} file(s) in {report.destination}"
            + (f" ({already} already there)" if already else ""))
    missing = [f.name for f in report.files if not f.ok]
    lines = [line]
    if missing:
        lines.append("not landed: " + ", ".join(missing))
    return lines


def _summary(result, code, out):
    status = "succeeded" if code == 0 else f"failed at {result.failed_step or 'the start'} (exit {code})"
    print(f"kada-collector run {status}", file=out)
    if result.window:
        print(f"  window   {result.window[0]} to {result.window[1]} (UTC)", file=out)
    if result.manifest:
        m = result.manifest
        dbs = m.get("databases", [])
        ok = sum(1 for d in dbs if d.get("status") == "succeeded")
        rows = sum(f.get("rows", 0) for f in m.get("files", []))
        print(f"  extract  {ok} of {len(dbs)} database(s), {len(m.get('files', []))} file(s), {rows} row(s): "
              f"{result.manifest_name}", file=out)
    if result.push is not None:
        lines = _push_lines(result.push)
        print(f"  push     {lines[0]}", file=out)
        for line in lines[1:]:
            print(f"           {line}", file=out)
    if result.hwm_where:
        what = "published" if result.hwm_published else "not published"
        print(f"  hwm      {what}: {result.hwm_where}", file=out)
    if code:
        # The error itself was logged once, on stderr, where a scheduler keeps it.
        print("  error    logged above (stderr)", file=out)


def _run_command(args):
    progress = Progress()
    result = JobResult()
    try:
        run_job(args.config, args.name, args.hwm_dir, progress, result)
    except CollectorError as e:
        progress.close()
        log.error("%s", e)
        code = exit_code(e)
    except Exception:  # a bug or an unforeseen fault: still a summary and a documented code
        progress.close()
        log.exception("unexpected error during %s", result.failed_step or "the run")
        code = EXIT_FAILED
    else:
        code = 0
    _summary(result, code, sys.stdout)
    return code


def _push_command(args):
    progress = Progress()
    try:
        config, _ = load_job(args.config, extractor=False)
        store = open_job_landing(config, source=str(args.config))
        progress.step(f"checking the run and the landing {store.where()}")
        report = push_run(config["output_path"], store, manifest_name=args.manifest, source=SOURCE,
                          allow_failed=args.allow_failed, on_file=progress.on_file, on_bytes=progress.on_bytes)
    except CollectorError as e:
        progress.close()
        log.error("%s", e)
        print(f"kada-collector push failed (exit {exit_code(e)}): the error is logged above (stderr)")
        return exit_code(e)
    except Exception:  # a bug or an unforeseen fault
        progress.close()
        log.exception("unexpected error")
        print(f"kada-collector push failed (exit {EXIT_FAILED}): the error is logged above (stderr)")
        return EXIT_FAILED
    finally:
        progress.close()
    for f in report.files:
        print(f"{f.status:>14}  {f.name}" + (f"  ({f.error})" if f.error else ""))
    lines = _push_lines(report)
    print(f"kada-collector push {'succeeded' if report.ok else f'failed (exit {EXIT_LANDING_FAILED})'}: "
          f"{report.manifest}: {lines[0]}")
    for line in lines[1:]:
        print(f"  {line}")
    return 0 if report.ok else EXIT_LANDING_FAILED


# `kada-collector grants` without a config file: each flag sets the config setting of its dest.
GRANT_FLAGS = {
    "--username": dict(dest="username", metavar="USER", help="the collector's user (required without --config)"),
    "--database": dict(dest="databases", metavar="NAME", action="append",
                       help="a database to extract; repeat for each, or \"*\" for every one (required without "
                            "--config)"),
    "--server": dict(dest="server", metavar="HOST", help="the server's host name, shown in the script; an RDS/Aurora "
                                                          "endpoint adds what RDS needs"),
    "--port": dict(dest="port", metavar="PORT", type=int, help="the server's port (default: 5432)"),
    "--query-log": dict(dest="query_log", action="store_true",
                        help="the user also reads the query log from pg_stat_statements (\"meta_only\": false)"),
    "--iam-auth": dict(dest="iam_auth", action="store_true", help="the user logs in with IAM tokens (RDS/Aurora)"),
    "--aws-region": dict(dest="aws_region", metavar="REGION", help="with --iam-auth: the instance's region"),
    "--role-arn": dict(dest="role_arn", metavar="ARN", help="with --iam-auth: the role assumed to sign tokens"),
}
_GRANTS_SOURCE = "kada-collector grants"


def _grants_settings(args) -> tuple:
    """The validated settings and what they came from: the flags, or the config file (not both)."""
    given = {what["dest"]: getattr(args, what["dest"]) for what in GRANT_FLAGS.values()
             if getattr(args, what["dest"]) not in (None, False)}
    if not given:
        path = args.config or DEFAULT_CONFIG
        return validate_settings(load_config(path), SETTINGS, source="PostgreSQL collector config"), str(path)
    if args.config:
        raise ConfigError([f"give either --config or the flags ({', '.join(GRANT_FLAGS)}), not both"], _GRANTS_SOURCE)
    missing = [flag for flag in ("--username", "--database") if GRANT_FLAGS[flag]["dest"] not in given]
    if missing:
        raise ConfigError([f"{' and '.join(missing)} missing: without --config, give at least the collector's user "
                           "and its databases, e.g. --username kada_collector --database dwh"], _GRANTS_SOURCE)
    config = {"server": "<server>", "meta_only": not given.pop("query_log", False), **given}
    read = {what["dest"] for what in GRANT_FLAGS.values()} | {"server", "meta_only"}
    chosen = [s for s in SETTINGS if s.name in read]
    return validate_settings(config, chosen, source=_GRANTS_SOURCE), "the options given"


def _grants_command(args) -> int:
    """Print the least-privilege SQL for the collector's user (no connection: the user may not exist yet)."""
    from .postgres.grants import grants_script
    try:
        settings, config_name = _grants_settings(args)
    except CollectorError as e:
        print(f"kada-collector grants: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(grants_script(settings, config_name=config_name))
    return 0


def _doctor_command(args):
    """Check each prerequisite as the collector's user; exit 0 all passed, 1 a check failed, 2 bad config."""
    from .postgres.doctor import FAIL, PASS, SKIP, WARN, run_doctor
    from .postgres.settings import validate_config
    try:
        settings, password = validate_config(load_config(args.config))
    except CollectorError as e:
        print(f"FAIL  config  {redact_credentials(str(e))}")
        print(f"kada-collector doctor: the config cannot be used (exit {EXIT_BAD_INPUT})")
        return EXIT_BAD_INPUT
    print(redact_credentials(f"kada-collector doctor: {settings['server']}:{settings['port']} as {settings['username']!r}"))
    report = run_doctor(settings, password)
    for line in report.lines():
        print(line)
    code = 0 if report.ok else EXIT_FAILED
    counts = ", ".join(f"{report.count(s)} {label}" for s, label in
                       ((PASS, "passed"), (WARN, "warning(s)"), (FAIL, "failed"), (SKIP, "skipped")) if report.count(s))
    print(f"kada-collector doctor: {counts} (exit {code})")
    return code


def _report_command(args):
    from .report import write_report  # the page's template and script are read only for this command
    try:
        result = write_report(args.folder, args.output, args.manifest, source=SOURCE)
    except CollectorError as e:
        print(f"kada-collector report failed: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {result.output}" if args.output else "\n".join(result.lines))
    if result.problems:
        print(f"kada-collector report: {len(result.problems)} file(s) do not match the run's manifest; the report "
              f"shows what could be read (exit {EXIT_FAILED}):\n" + "\n".join(f"  {p}" for p in result.problems),
              file=sys.stderr)
        return EXIT_FAILED
    return 0


def version_text(prog: str) -> str:
    """What ``--version`` prints: the command, both packages' versions and Python's."""
    def of(package):
        try:
            return version(package)
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "unknown"
    return (f"{prog} {of('kada-collectors-extractors')} (kada-collectors-lib {of('kada-collectors-lib')}, "
            f"Python {sys.version.split()[0]})")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=version_text(prog))
    return parser


def postgres_extractor_main(argv: Optional[List[str]] = None) -> int:
    parser = _parser("kada-postgres-extractor",
                     "Extract PostgreSQL metadata for the K data catalog, for the window since the last run.")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                        help="the JSON config (default: %(default)s in the current folder)")
    parser.add_argument("-n", "--name", default="postgres", help="the HWM file prefix (default: %(default)s)")
    parser.add_argument("--hwm-dir", default=None, help="folder of the HWM file (default: the current folder)")
    args = parser.parse_args(argv)
    get_generic_logger("root")  # the handler for every logger; lines name the one that logged
    try:
        start_hwm, end_hwm = run_extractor(args.config, args.name, args.hwm_dir)
    except CollectorError as e:
        log.error("%s", e)
        return exit_code(e)
    log.info("extracted %s to %s; HWM published", start_hwm, end_hwm)
    return 0


def _config_argument(command: argparse.ArgumentParser, default: Optional[str] = DEFAULT_CONFIG) -> None:
    command.add_argument("-c", "--config", default=default,
                         help=f"the JSON config (default: {default or DEFAULT_CONFIG})")


def _add_tools(commands) -> None:
    """The subcommands that read a folder or need no config: demo, validate, report."""
    demo = commands.add_parser(
        "demo", help="extract a sample database on an embedded PostgreSQL",
        description="Start an embedded PostgreSQL 18, load a sample retail database, extract it as a role that owns "
                    "nothing and may read no table, validate the files against the contract and print where they "
                    "are. Needs no database of yours.")
    demo.add_argument("--output", default="kada-demo-output", help="output folder (default: ./%(default)s)")
    validate = commands.add_parser(
        "validate", help="check a folder of extract files against the contract",
        description="Check every extract file and manifest in FOLDER against the contract (docs/contract.md): "
                    "names, header, quoting, columns, and the files each manifest lists. Exit status: 0 valid, "
                    "1 a problem was found (each is printed).")
    validate.add_argument("folder")
    report = commands.add_parser(
        "report", help="show what a run would send: a summary, or one self-contained HTML page",
        description="Read the newest run of FOLDER (its manifest and the files it lists) and print a summary, "
                    "or with --output write one HTML file, with no outside resources, to inspect in a browser.")
    report.add_argument("folder")
    report.add_argument("-o", "--output", default=None, help="write the HTML report to this file")
    report.add_argument("--manifest", default=None, help="report on this run (a manifest file name) instead of the newest")


def _add_job_commands(commands) -> None:
    """The subcommands of the job: push and run."""
    push = commands.add_parser(
        "push", help="push the newest run of output_path to the landing area",
        description="Check the newest run in output_path against its manifest, upload its files to the "
                    "config's landing area (the manifest last), and verify each. Safe to repeat.")
    _config_argument(push)
    push.add_argument("--manifest", default=None,
                      help="push this run (a manifest file name) instead of the newest")
    push.add_argument("--allow-failed", action="store_true",
                      help="push a run even if some of its databases failed (its manifest says which)")
    run = commands.add_parser(
        "run", help="the whole job: HWM, extract, validate, push, publish the HWM",
        description="Extract the window since the last run, check and push it to the landing area, and "
                    "publish the HWM only if all of that succeeded.")
    _config_argument(run)
    run.add_argument("-n", "--name", default="postgres", help="the HWM name (default: %(default)s)")
    run.add_argument("--hwm-dir", default=None,
                     help="folder of the HWM file (default: the current folder); with landing.hwm, where an "
                          "existing HWM file is read once to seed the landing's")


def _add_server_commands(commands) -> None:
    """The subcommands about the collector's user on the server: grants and doctor."""
    grants = commands.add_parser(
        "grants", help="print the least-privilege SQL for the collector's user",
        description="Print a psql script that creates the collector's user with what its options need and "
                    "nothing more (run it as a superuser; on RDS/Aurora, the master user). Connects to nothing. "
                    "The user and options come from --config, or from the flags below when no config file "
                    "exists yet (--username and --database at least).")
    _config_argument(grants, default=None)
    flags = grants.add_argument_group("without a config file")
    for flag, what in GRANT_FLAGS.items():
        flags.add_argument(flag, **what)
    doctor = commands.add_parser(
        "doctor", help="check each prerequisite as the collector's user",
        description="Connect as the config's user and check, one by one: the server is reachable, TLS is verified, "
                    "the user authenticates, may CONNECT to each database and read the catalog, and (with the query "
                    "log) pg_stat_statements and the log source. Exit status: 0 every check passed (warnings "
                    "allowed), 1 a check failed, 2 the config cannot be used.")
    _config_argument(doctor)


def _collector_parser() -> argparse.ArgumentParser:
    """The ``kada-collector`` command line: one subcommand per tool."""
    parser = _parser("kada-collector", "Tools of the K data catalog collector.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_tools(commands)
    _add_job_commands(commands)
    _add_server_commands(commands)
    return parser


def collector_main(argv: Optional[List[str]] = None) -> int:
    args = _collector_parser().parse_args(argv)
    quiet = args.command in ("demo", "grants", "doctor")
    get_generic_logger("root", level=logging.WARNING if quiet else logging.INFO)
    if args.command == "grants":
        return _grants_command(args)
    if args.command == "doctor":
        return _doctor_command(args)
    if args.command == "report":
        return _report_command(args)
    if args.command == "validate":
        report = validate_folder(args.folder)
        for problem in report.problems:
            print(problem)
        print(f"{args.folder}: {report.files_checked} file(s), {report.manifests_checked} manifest(s): "
              + ("valid" if report.ok else f"{len(report.problems)} problem(s)"))
        return 0 if report.ok else EXIT_FAILED
    if args.command == "push":
        return _push_command(args)
    if args.command == "run":
        return _run_command(args)
    from .demo import run_demo
    try:
        run_demo(args.output)
    except CollectorError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    return 0
