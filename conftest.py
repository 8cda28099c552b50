"""Hypothesis profiles, and the benchmark suite's plugin (fixtures, timing)."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["bench.suite.plugin"]

# A quick profile for development; `ci` (HYPOTHESIS_PROFILE=ci, set by .ci/run)
# runs more examples, reproducibly, with no deadline flakes and no database.
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
