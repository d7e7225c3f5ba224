"""The helpers the collector's wrapper script imports (their names and signatures are fixed)."""

from kada_collectors.lib.config import load_config
from kada_collectors.lib.hwm import BEGINNING_OF_TIME, get_hwm, publish_hwm
from kada_collectors.lib.logs import get_generic_logger

__all__ = ["load_config", "get_hwm", "publish_hwm", "get_generic_logger", "BEGINNING_OF_TIME"]
