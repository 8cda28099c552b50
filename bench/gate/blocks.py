"""How the gate runs in blocks: its default subset, time per benchmark, and the
schedule of looks the sequential rule takes (`python -m bench ab` and the gate
study alike; why these looks: bench.gate.sequential)."""
from __future__ import annotations

# Chosen with the gate study (README, "Regression gate") so that a default run
# fits in 10 minutes on 2 cores.
DEFAULT_SUBSET = "(test_matmul or test_forward) and (rows5] or rows500]) and not three_loops"
DEFAULT_MAX_TIME = 0.2

# The looks: the first at MIN_PROCESSES blocks, the last at MAX_PROCESSES, LOOKS
# in all, spaced geometrically between them (bench.gate.sequential.schedule).
DEFAULT_MIN_PROCESSES = 6
DEFAULT_MAX_PROCESSES = 24
LOOKS = 5
