"""The errors of landing: each says what failed, where, and what to do."""

from ..errors import CollectorError, ConfigError, HWMError


class LandingError(CollectorError):
    """The landing area cannot be used (unreachable, credentials refused, no such bucket or
    container) or a file did not land. Nothing half-written is left under a real name; pushing
    again is safe."""

    exit_code = 4


class NothingToPush(CollectorError):
    """The output folder holds no run that may be pushed: no manifest, a run whose files do not
    match their manifest, or a failed run."""

    exit_code = 3


class HWMConflict(HWMError):
    """Another run changed the HWM in the landing area after this run read it; this run's HWM
    was not published (the other run's stands)."""

    exit_code = 5


class MissingExtra(ConfigError):
    """The landing type needs an optional dependency that is not installed."""

    def __init__(self, landing_type: str, module: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            [f"the {landing_type} landing needs the Python package {module}, which is not installed: "
             f"pip install \"kada-collectors-extractors[{extra}]\""],
            source="landing",
        )
