"""Hypothesis profiles, and the benchmark suite's plugin (fixtures, timing)."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

pytest_plugins = ["bench.suite.plugin"]

_main = getattr(sys.modules.get("__main__"), "__spec__", None)
if (Path(sys.argv[0] if sys.argv else "").name in ("pytest-benchmark", "py.test-benchmark")
        or (_main is not None and _main.name.startswith("pytest_benchmark"))):
    # The stock CLI imports this file for its hooks: let it skip broken saved runs.
    from bench.storage import guard_stock_listing

    guard_stock_listing()


def pytest_collect_file(file_path, parent):
    """Load the hypothesis profile before the first test module outside
    tests/benchmarks is imported (@given takes its settings then); a run of the
    benchmarks alone never imports hypothesis."""
    if file_path.suffix == ".py" and "benchmarks" not in file_path.parts:
        load_hypothesis_profile()


@functools.cache
def load_hypothesis_profile() -> None:
    """`dev` (the default) is quick; `ci` (HYPOTHESIS_PROFILE=ci, set by .ci/run)
    runs more examples, reproducibly, with no deadline flakes and no database."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", max_examples=25, deadline=None)
    settings.register_profile(
        "ci",
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "spawns: starts other processes; runs first, so that they overlap the rest")


def pytest_collection_modifyitems(items):
    """Tests that start processes first (a stable sort): under xdist they then
    overlap the many short tests instead of finishing alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("spawns") is None)
