"""The PostgreSQL collector (self-hosted, AWS RDS and Aurora)."""

from .extractor import Extractor

__all__ = ["Extractor"]
