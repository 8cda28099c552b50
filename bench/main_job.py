"""The main job: the benchmark suite on MNIST, saved, then the ladder report.

    python -m bench run [--gate-ready] [extra pytest args...]

Runs tests/benchmarks timed, saves the run with its raw samples under
.benchmarks/ (pytest-benchmark's --benchmark-autosave), then writes
reports/ladder.md and reports/ladder.png. --gate-ready runs with the regression
gate's settings (bench.suite.command) instead of torch's default threads and
the wall clock.
"""
from __future__ import annotations

import subprocess
import sys
import time

from bench.suite import command


def ensure_mnist():
    """MNIST's folder: found locally, else fetched (and verified) into the user cache."""
    from bench.suite.mnist import local_mnist_dir
    from data import fetch

    return local_mnist_dir() or fetch()[0]


def main(argv: list[str]) -> int:
    gate_ready = "--gate-ready" in argv
    extra = [arg for arg in argv if arg != "--gate-ready"]
    if any(arg in ("-h", "--help") for arg in extra):
        print(__doc__)
        return 0
    mnist_dir = ensure_mnist()
    print(f"MNIST from {mnist_dir}")
    env = command.environment(gate_ready=gate_ready, mnist_dir=mnist_dir)
    args = ["--benchmark-autosave", "--benchmark-save-data", *extra]
    started = time.perf_counter()
    code = subprocess.call(command.pytest_command(*args, gate_ready=gate_ready), env=env)
    print(f"benchmark suite took {time.perf_counter() - started:.0f} s")
    if code != 0:
        print("benchmarks failed: no report written", file=sys.stderr)
        return code
    from bench.report.__main__ import main as report

    return report([])
