"""The landing area: where a collector pushes its runs for the catalog to pick up.

- ``config``: the ``landing`` section of a collector's config (``landing_problems``, ``landing_settings``).
- ``open_landing(section)``: a ``Store`` for it: a folder (``local``), an S3 prefix (``s3``, needs
  boto3) or an Azure container folder (``azure``, needs azure-storage-blob).
- ``push``: push one run (checked first, data files then the manifest, each verified).
- ``hwm``: the HWM kept in the landing area, published with a conditional write.
"""

from .config import LANDING_TYPES, landing_problems, landing_settings
from .errors import HWMConflict, LandingError, MissingExtra, NothingToPush
from .hwm import FileHWM, LandingHWM
from .push import ALREADY_LANDED, FAILED, LANDED, NOT_ATTEMPTED, PushReport, check_run, newest_manifest, push_run
from .base import Store


def open_landing(section: dict) -> Store:
    """A ``Store`` for a ``landing`` config section (validated here; secrets resolved here)."""
    settings = landing_settings(section)
    if settings["type"] == "local":
        from .local import LocalStore
        return LocalStore(settings)
    if settings["type"] == "s3":
        from .s3 import S3Store
        return S3Store(settings)
    from .azure import AzureStore
    return AzureStore(settings)


__all__ = [
    "LANDING_TYPES", "landing_problems", "landing_settings", "open_landing",
    "LandingError", "NothingToPush", "HWMConflict", "MissingExtra",
    "FileHWM", "LandingHWM",
    "push_run", "check_run", "newest_manifest", "PushReport",
    "LANDED", "ALREADY_LANDED", "FAILED", "NOT_ATTEMPTED",
]
