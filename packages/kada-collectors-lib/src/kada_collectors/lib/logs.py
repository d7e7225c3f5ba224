"""Loggers for collectors: UTC timestamps, and a last line of defence against leaked secrets."""

import logging
import sys
import time

from .redact import redact_credentials

LOG_FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Redacts credentials from every record, whoever logged it (a driver error can quote a DSN)."""

    def filter(self, record):
        message = record.getMessage()
        clean = redact_credentials(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def get_generic_logger(name, level=logging.INFO):
    """Return the logger ``name`` with one stderr handler; ``'root'`` configures the root logger.

    Calling it again does not add a second handler.
    """
    logger = logging.getLogger() if name == "root" else logging.getLogger(name)
    if not any(getattr(h, "_kada_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handler._kada_handler = True
        logger.addHandler(handler)
    logger.setLevel(level)
    return logger
