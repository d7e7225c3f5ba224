"""Loggers for collectors: UTC timestamps, a last line of defence against leaked secrets, and a
clean end for a script that stops on a known error."""

import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Optional

from .errors import CollectorError
from .redact import redact_credentials

LOG_FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"
# The collector's own logger: its modules log under it (kada_collectors.extractors...), and so does a
# known error that ends a script, so that no line says "root".
COLLECTOR_LOGGER = "kada_collectors"


class RedactingFilter(logging.Filter):
    """Redacts credentials from every record, whoever logged it (a driver error can quote a DSN)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_credentials(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def get_generic_logger(name: str, level: int = logging.INFO) -> logging.Logger:
    """Return the logger ``name`` with one stderr handler; ``'root'`` configures the root logger.

    Calling it again does not add a second handler. The first call also makes a known error that
    ends the script (a ``CollectorError``) one logged message and its documented exit code, with
    no traceback (see ``install_exit_hook``).
    """
    logger = logging.getLogger() if name == "root" else logging.getLogger(name)
    if not any(getattr(h, "_kada_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handler._kada_handler = True  # type: ignore[attr-defined]  # marks ours
        logger.addHandler(handler)
    logger.setLevel(level)
    # Through the root logger's handler, the hook's line still names the collector.
    install_exit_hook(logging.getLogger(COLLECTOR_LOGGER) if name == "root" else logger)
    return logger


def install_exit_hook(logger: logging.Logger) -> None:
    """Make an uncaught ``CollectorError`` end the process with one message logged through
    ``logger`` (redacted by its handler) and the error's ``exit_code``; once per process.

    Scripts such as the vendor's wrapper call the API without a try block: without this, a wrong
    password would print a traceback and exit 1 whatever the error. Any other exception is a bug:
    its traceback is still shown, credentials redacted.
    """
    previous = sys.excepthook
    if getattr(previous, "_kada_hook", False):
        return

    def hook(kind: type[BaseException], error: BaseException, tb: Optional[TracebackType]) -> None:
        if isinstance(error, CollectorError):
            logger.error("%s", error)
            # Raised from the hook, SystemExit ends the interpreter normally, with this status.
            sys.exit(error.exit_code)
        if previous is sys.__excepthook__:
            sys.stderr.write(redact_credentials("".join(traceback.format_exception(kind, error, tb))))
            sys.stderr.flush()
        else:
            previous(kind, error, tb)

    hook._kada_hook = True  # type: ignore[attr-defined]  # marks ours
    sys.excepthook = hook
