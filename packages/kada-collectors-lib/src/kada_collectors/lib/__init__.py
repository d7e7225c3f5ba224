"""What every K data catalog collector needs, whatever its source.

- ``config``: validate a collector's settings, reporting every problem at once.
- ``hwm``: the high water mark that windows each run.
- ``logs``: loggers that never print a secret.
- ``contract``: the extract files' names and columns.
- ``writer``: write extracts by the contract (write aside, then rename).
- ``manifest``: the run's manifest, written last.
- ``validate``: check a folder of extracts against the contract.
- ``redact``: remove credentials from free text.
"""

__version__ = "3.0.0"
