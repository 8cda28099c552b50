"""The main job: the benchmark suite on MNIST, saved, then the ladder report.

    python -m bench run [extra pytest args...]

Runs tests/benchmarks with timing on, saves the run (with raw samples, for the
regression gate) under .benchmarks/, then writes reports/ladder.md and .png.
"""
from __future__ import annotations

import subprocess
import sys
import time

from bench import report

PYTEST_ARGS = ["tests/benchmarks", "--benchmark-enable", "--benchmark-autosave",
               "--benchmark-save-data", "-p", "no:cacheprovider", "-q"]


def run(extra: list[str]) -> int:
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", *PYTEST_ARGS, *extra])
    print(f"benchmark suite took {time.perf_counter() - started:.0f} s")
    if code != 0:
        print("benchmarks failed: no report written", file=sys.stderr)
        return code
    return report.main([])


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "run":
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
