"""How the gate runs in blocks: its default subset, processes and time per
benchmark, and the confirming blocks for benchmarks whose interval still
straddles the threshold (`python -m bench ab` and the gate study alike)."""
from __future__ import annotations

from collections.abc import Callable

from . import decide
from .compare import Row

# Chosen with the gate study (README, "Regression gate") so that a default run
# fits in 10 minutes on 2 cores.
DEFAULT_SUBSET = "(test_matmul or test_forward) and (rows5] or rows500]) and not three_loops"
DEFAULT_PROCESSES = 16
DEFAULT_MAX_TIME = 0.2
DEFAULT_CONFIRM = 8
CONFIRM_STEP = 4


def straddling(rows: list[Row]) -> list[str]:
    """Benchmarks that more blocks could still turn into a regression."""
    return [r.key for r in rows if r.estimate is not None
            and decide.straddles(r.estimate, r.threshold)]


def confirm(judge: Callable[[], list[Row]], add_blocks: Callable[[list[str], int], int],
            budget: int) -> list[Row]:
    """Judge; while some benchmark straddles, add up to CONFIRM_STEP blocks for those
    benchmarks (add_blocks(keys, n) returns how many it added) within `budget`, and
    judge again. Returns the last rows."""
    rows = judge()
    while budget > 0:
        keys = straddling(rows)
        if not keys:
            break
        added = add_blocks(keys, min(CONFIRM_STEP, budget))
        if not added:
            break
        budget -= added
        rows = judge()
    return rows
