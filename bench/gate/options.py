"""The gate's options, defined once for every command that decides (as asv's
common_args.add_compare does): `python -m bench.gate` and `python -m bench ab`."""
from __future__ import annotations

import argparse

from bench import runs
from bench.policy import ALPHA, DETECT, THRESHOLD

from . import statistics
from .compare import METRICS, NORMALIZE, Settings


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gate options")
    # argparse formats help with %: a literal one is written twice.
    default_statistic = statistics.STATISTICS[statistics.DEFAULT].description.replace("%", "%%")
    group.add_argument("--threshold", type=float, default=THRESHOLD,
                       help=f"changes within ± this are never reported (default {THRESHOLD}); "
                            "a benchmark's @pytest.mark.gate_threshold overrides it")
    group.add_argument("--alpha", type=float, default=ALPHA,
                       help="family-wise chance that any interval misses its true ratio "
                            f"(default {ALPHA})")
    group.add_argument("--detect", type=float, default=DETECT,
                       help="the slowdown every benchmark should catch: one that cannot at "
                            f"this noise is flagged too noisy (default {DETECT})")
    group.add_argument("--normalize", choices=runs.NORMALIZATIONS, default=NORMALIZE,
                       help="how samples are normalized by the reference timed beside them "
                            f"(default {NORMALIZE}: per benchmark, the mode that varies least "
                            "within each side)")
    group.add_argument("--statistic", choices=sorted(statistics.STATISTICS),
                       default=statistics.DEFAULT,
                       help="the location taken over processes (default "
                            f"{statistics.DEFAULT}: {default_statistic})")
    group.add_argument("--metric", choices=("all", *METRICS), default="all",
                       help="what to judge: time, memory (each call's peak allocation, decided "
                            "from one run a side) or all (default)")
    group.add_argument("--allow-different-machine", action="store_true",
                       help="compare even if node, CPU, GPU, Python, torch, threads or timer "
                            "differ")


def settings_from(args: argparse.Namespace) -> Settings:
    """The Settings the gate options ask for (ValueError names a bad one)."""
    return Settings(threshold=args.threshold, alpha=args.alpha, detect=args.detect,
                    normalize=args.normalize, statistic=args.statistic,
                    allow_different_machine=args.allow_different_machine,
                    metrics=METRICS if args.metric == "all" else (args.metric,))
