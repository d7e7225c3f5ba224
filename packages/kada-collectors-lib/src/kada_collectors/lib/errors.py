"""The errors a collector raises on purpose. Each message says what went wrong and how to fix it."""


class CollectorError(Exception):
    """Base class: a problem the user can act on (as opposed to a bug).

    ``exit_code`` is the documented exit status of a command that stops on it (docs/operations.md);
    a subclass with a status of its own sets it, and every face (the CLI, the wrapper's hook) reads it.
    """

    exit_code = 1


class ConfigError(CollectorError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems, source="config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class HWMError(CollectorError):
    """The high water mark file or value is unusable."""

    exit_code = 2


class ExtractError(CollectorError):
    """An extract could not be produced (see the message for which and why)."""
