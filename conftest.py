"""Hypothesis profiles, and the benchmark suite's plugin (fixtures, timing)."""
from __future__ import annotations

import os
import sys

pytest_plugins = ["bench.suite.plugin"]


def pytest_collection_finish(session):
    """Load the hypothesis profile once the test modules are imported, and only if
    one of them uses hypothesis: benchmark runs then never import it.

    `dev` (the default) is quick; `ci` (HYPOTHESIS_PROFILE=ci, set by .ci/run)
    runs more examples, reproducibly, with no deadline flakes and no database.
    """
    if "hypothesis" not in sys.modules:
        return
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
