"""The main job: the benchmark suite on MNIST, saved, then the ladder report.

    python -m bench run [extra pytest args...]

Runs tests/benchmarks with timing on, saves the run (with raw samples, for the
regression gate) under .benchmarks/, then writes reports/ladder.md and .png.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import report

PYTEST_ARGS = ["tests/benchmarks", "--benchmark-enable", "--benchmark-autosave",
               "--benchmark-save-data", "-p", "no:cacheprovider", "-q"]


def ensure_mnist() -> dict[str, str]:
    """The environment for the suite, with MNIST_DIR set: fetched (and verified)
    into the user cache first when neither MNIST_DIR nor a cached copy exists."""
    from bench.mnist import local_mnist_dir
    from data import fetch

    return {**os.environ, "MNIST_DIR": str(local_mnist_dir() or fetch()[0])}


# torch's OpenMP workers spin for a while after each parallel region; every
# round pairs a torch call with the benchmarked one, so a numba kernel's
# threads found both cores busy and took ~2x longer. A short spin (set before
# torch loads) leaves torch's own timings unchanged here and removes that.
OPENMP_ENV = {"GOMP_SPINCOUNT": "1000"}


def run(extra: list[str]) -> int:
    env = {**OPENMP_ENV, **ensure_mnist()}
    print(f"MNIST from {env['MNIST_DIR']}")
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", *PYTEST_ARGS, *extra], env=env)
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
