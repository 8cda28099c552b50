"""The gate's options, defined once for every command that decides (as asv's
common_args.add_compare does): `python -m bench.gate` and `python -m bench ab`;
and the looks of the sequential rule, for `python -m bench ab` and the study."""
from __future__ import annotations

import argparse

from bench import runs
from bench.policy import ALPHA, DETECT, THRESHOLD

from . import statistics
from .blocks import DEFAULT_MAX_PROCESSES, DEFAULT_MIN_PROCESSES, LOOKS
from .compare import METRICS, NORMALIZE, Settings
from .sequential import Look, schedule


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


def add_look_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("looks (the sequential rule: bench/gate/sequential.py)")
    group.add_argument("--min-processes", type=int, default=DEFAULT_MIN_PROCESSES, metavar="N",
                       help="blocks (processes per side) of the first look "
                            f"(default {DEFAULT_MIN_PROCESSES})")
    group.add_argument("--max-processes", type=int, default=DEFAULT_MAX_PROCESSES, metavar="N",
                       help="blocks of the last look; undecided benchmarks get blocks of "
                            f"their own up to it, over {LOOKS} looks in all "
                            f"(default {DEFAULT_MAX_PROCESSES})")
    group.add_argument("--processes", type=int, default=None, metavar="N",
                       help="one look at N blocks, no stopping early: --min-processes N "
                            "--max-processes N")


def looks_from(args: argparse.Namespace, alpha: float) -> tuple[Look, ...]:
    """The looks the options ask for (ValueError names a bad one)."""
    if args.processes is not None:
        if args.processes < 2:
            raise ValueError(f"--processes must be at least 2: the spread between processes "
                             f"is measured from them, got {args.processes}")
        return schedule(args.processes, args.processes, alpha)
    return schedule(args.min_processes, args.max_processes, alpha)
