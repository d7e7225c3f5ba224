"""The landing servers (see landing_servers.py), a pytest plugin of conftest.py, and what the S3
and Azure tests check alike: a push cut in the middle of a file, and two runs racing for the HWM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kada_collectors.lib.landing import (
    ALREADY_LANDED, FAILED, LANDED, NOT_ATTEMPTED, HWMConflict, LandingHWM, push_run,
)

if TYPE_CHECKING:
    from kada_collectors.lib.landing.base import Store
    from landing_servers import Azurite, FaultProxy, MotoServer

PREFIX = "postgres/prod"


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoServer]:
    """moto's S3 server on a free loopback port, for the whole session."""
    from landing_servers import MotoServer
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's blob service on a free loopback port (installed with npm on first use)."""
    from landing_servers import Azurite
    server = Azurite()
    yield server
    server.stop()


def push_cut_in_the_metadata_file(run_folder: Path, store: Store, proxy: FaultProxy, cut_after: int,
                                  landed: Callable[[], dict[str, bytes]]) -> str:
    """Pushes ``run_folder`` through ``proxy``, which cuts the link ``cut_after`` bytes into the
    metadata file, and checks that the files before it landed whole and nothing after (no half
    file, no manifest); then pushes again through the restored link and checks that every file
    landed. ``landed``: the landing's objects by key. Returns the cut push's error."""

    def cut_during_the_metadata_file(index, total, outcome):
        if "_metadata_" in outcome.name and outcome.status == NOT_ATTEMPTED:
            proxy.cut_after(cut_after)

    report = push_run(run_folder, store, on_file=cut_during_the_metadata_file)
    assert proxy.cut and not report.ok
    statuses = [f.status for f in report.files]
    cut = next(i for i, f in enumerate(report.files) if "_metadata_" in f.name)
    assert cut > 0 and statuses[:cut] == [LANDED] * cut and statuses[cut] == FAILED
    assert set(statuses[cut + 1:]) == {NOT_ATTEMPTED}
    assert report.files[cut].bytes > cut_after, "the cut falls inside the metadata file"
    objects = landed()
    assert sorted(objects) == sorted(f"{PREFIX}/{f.name}" for f in report.files[:cut]), "no half file, no manifest"
    for f in report.files[:cut]:
        assert objects[f"{PREFIX}/{f.name}"] == (run_folder / f.name).read_bytes()

    proxy.restore()
    again = push_run(run_folder, store)
    assert again.ok and [f.status for f in again.files] == [ALREADY_LANDED] * cut + [LANDED] * (len(statuses) - cut)
    objects = landed()
    for f in again.files:
        assert objects[f"{PREFIX}/{f.name}"] == (run_folder / f.name).read_bytes()
    return report.error


def race_for_the_hwm(store: Store) -> None:
    """Two runs read the (absent) HWM and publish: the second is refused; twice, the second time
    over an HWM that exists. The HWM left is ``2026-01-03 00:00:00``."""
    first, second = LandingHWM(store, "postgres"), LandingHWM(store, "postgres")
    first.get(), second.get()
    first.publish("2026-01-02 00:00:00")  # If-None-Match: * (there was none)
    with pytest.raises(HWMConflict):
        second.publish("2026-01-02 00:00:09")
    third, fourth = LandingHWM(store, "postgres"), LandingHWM(store, "postgres")
    assert third.get()[0] == fourth.get()[0] == "2026-01-02 00:00:00"
    third.publish("2026-01-03 00:00:00")  # If-Match: the ETag read
    with pytest.raises(HWMConflict):
        fourth.publish("2026-01-03 00:00:07")
