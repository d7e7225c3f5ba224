"""The errors a collector raises on purpose. Each message says what went wrong and how to fix it."""


class CollectorError(Exception):
    """Base class: a problem the user can act on (as opposed to a bug)."""


class ConfigError(CollectorError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems, source="config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class HWMError(CollectorError):
    """The high water mark file or value is unusable."""


class ExtractError(CollectorError):
    """An extract could not be produced (see the message for which and why)."""
