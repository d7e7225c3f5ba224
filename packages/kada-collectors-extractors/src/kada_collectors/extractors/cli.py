"""Command lines: ``kada-postgres-extractor`` (the scheduled job) and ``kada-collector`` (tools)."""

import argparse
import logging
import sys

from kada_collectors.lib.errors import CollectorError, ConfigError, HWMError
from kada_collectors.lib.validate import validate_folder

from .postgres import Extractor
from .utils import get_generic_logger, get_hwm, load_config, publish_hwm

# Exit codes: 0 done; 1 the extraction failed (HWM not published); 2 bad input (config, usage).
EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def run_extractor(config_path, name, hwm_dir=None):
    """The documented flow: HWM window → extract → publish the HWM only if everything succeeded."""
    start_hwm, end_hwm = get_hwm(name, hwm_dir)
    extractor = Extractor(**load_config(config_path))
    extractor.test_connection()
    extractor.run(start_hwm=start_hwm, end_hwm=end_hwm)
    publish_hwm(name, end_hwm, hwm_dir)
    return start_hwm, end_hwm


def postgres_extractor_main(argv=None):
    parser = argparse.ArgumentParser(
        prog="kada-postgres-extractor",
        description="Extract PostgreSQL metadata for the K data catalog, for the window since the last run.")
    parser.add_argument("-c", "--config", default="kada_postgres_extractor_config.json",
                        help="the JSON config (default: %(default)s in the current folder)")
    parser.add_argument("-n", "--name", default="postgres", help="the HWM file prefix (default: %(default)s)")
    parser.add_argument("--hwm-dir", default=None, help="folder of the HWM file (default: the current folder)")
    args = parser.parse_args(argv)
    log = get_generic_logger("root")
    try:
        start_hwm, end_hwm = run_extractor(args.config, args.name, args.hwm_dir)
    except CollectorError as e:
        log.error("%s", e)
        return EXIT_BAD_INPUT if isinstance(e, (ConfigError, HWMError)) else EXIT_FAILED
    log.info("extracted %s to %s; HWM published", start_hwm, end_hwm)
    return 0


def collector_main(argv=None):
    parser = argparse.ArgumentParser(prog="kada-collector", description="Tools of the K data catalog collector.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="extract a sample database on an embedded PostgreSQL")
    demo.add_argument("--output", default="kada-demo-output", help="output folder (default: ./%(default)s)")
    validate = commands.add_parser("validate", help="check a folder of extract files against the contract")
    validate.add_argument("folder")
    args = parser.parse_args(argv)
    get_generic_logger("root", level=logging.WARNING if args.command == "demo" else logging.INFO)
    if args.command == "validate":
        report = validate_folder(args.folder)
        for problem in report.problems:
            print(problem)
        print(f"{args.folder}: {report.files_checked} file(s), {report.manifests_checked} manifest(s): "
              + ("valid" if report.ok else f"{len(report.problems)} problem(s)"))
        return 0 if report.ok else EXIT_FAILED
    from .demo import run_demo
    try:
        run_demo(args.output)
    except CollectorError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    return 0
