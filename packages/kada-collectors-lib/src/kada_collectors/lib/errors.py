"""The errors a collector raises on purpose. Each message says what went wrong and how to fix it."""


class CollectorError(Exception):
    """Base class: a problem the user can act on (as opposed to a bug).

    ``exit_code`` is the documented exit status of a command that stops on it (docs/operations.md);
    a subclass with a status of its own sets it, and every face (the CLI, the wrapper's hook) reads it.
    ``retryable`` says whether the same job, run again unchanged, may succeed: a scheduler (the
    Airflow DAG) retries only those.
    """

    exit_code = 1
    retryable = True


class ConfigError(CollectorError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    exit_code = 2
    retryable = False

    def __init__(self, problems, source="config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class HWMError(CollectorError):
    """The high water mark file or value is unusable."""

    exit_code = 2
    retryable = False


class ExtractError(CollectorError):
    """An extract could not be produced (see the message for which and why)."""


class OutOfSpace(ExtractError):
    """A disk the run writes to (the output folder's, the snapshot file's) is full: the run stopped
    and removed what it had written."""

    exit_code = 1


class RunInProgress(CollectorError):
    """Another run holds the output folder or the snapshot file: this run did nothing."""

    exit_code = 6


class RunInterrupted(CollectorError):
    """The run was stopped by SIGTERM; what it had written was removed."""

    exit_code = 143  # 128 + SIGTERM, what schedulers expect of a process ended by it
