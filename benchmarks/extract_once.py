"""One extraction through the public API, run by the benchmark in a process of its own.

    python extract_once.py CONFIG.json RESULT.json [PROFILE.prof]

A process of its own so that its peak RSS is the extraction's alone. The password, if any, comes
from the environment (the config's ``password_env``), never from the command line. With a third
argument the run is profiled with cProfile and the stats saved there. The config may carry a
``"window": [start_hwm, end_hwm]`` for ``run()`` (taken out before the Extractor sees it).
"""

import json
import sys
import time

started = time.monotonic()
# Imported after the clock starts: the import time is measured.
from kada_collectors.extractors.postgres import Extractor


def main(config_path, result_path, profile_path=None):
    imported = time.monotonic()
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    window = config.pop("window", [None, None])
    extractor = Extractor(**config)
    run_started = time.monotonic()
    if profile_path:
        import cProfile
        profiler = cProfile.Profile()
        manifest = profiler.runcall(extractor.run, *window)
        profiler.dump_stats(profile_path)
    else:
        manifest = extractor.run(*window)
    finished = time.monotonic()
    result = {"import_seconds": round(imported - started, 3), "run_seconds": round(finished - run_started, 3),
              "manifest": manifest}
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
