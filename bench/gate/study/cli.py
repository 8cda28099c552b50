"""The gate study: false alarms on unchanged code and detection of real code
changes, for our gate, the previous single-run gate and stock mean:10%.

    python -m bench study [--out DIR | --from DIR] [--groups 48] [--truth 16]
        [--min-processes 6] [--max-processes 24] [--processes N] [--fixed 16]
        [--comparisons 200] [-k SUBSET] [--max-time T] [--seed S]

Trees (in DIR/trees): the working tree (base), an identical copy (same: the
A/A comparisons), and one copy per plausible patch (bench.gate.study.patches).
First each patch's true effect is measured by a long quiet run of its own
(--truth blocks of base and patch, DIR/truth/<patch>/). Then --groups groups
of one fresh gate-ready process per tree, in random order, half of them beside
a noisy neighbour (a process streaming through memory on one core), in
DIR/main/. Every gate judges the same processes (bench.gate.study.judge);
ours by the sequential rule of `bench ab` (the same look options), drawing
groups in random order until it stops, so the table gives the mean blocks
and wall time per comparison beside false alarms and detection; and, for
what stopping early saves, ours at one look of --fixed blocks;
DIR/study.md and DIR/study.json hold the table, and after it whether the A/A
intervals hold on disjoint comparisons and the false alarms per A/A comparison
their spreads imply (bench.gate.study.calibration). --from DIR judges a
recorded study again without measuring.
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from bench import cli, forkserver
from bench.exitcodes import Exit
from bench.gate.blocks import DEFAULT_MAX_PROCESSES, DEFAULT_MAX_TIME, DEFAULT_SUBSET
from bench.gate.compare import Settings
from bench.gate.options import add_look_arguments, looks_from
from bench.gate.sequential import Look
from bench.table import Column, short_name
from bench.table import markdown as table_lines
from bench.tree import repository_root

from . import judge as judging
from . import previous
from .patches import PATCHES
from .record import BASE, SAME, prepare_trees, record

# The blocks the gate ran before it stopped early: the study's point of comparison.
FIXED = 16


@dataclass(frozen=True)
class Line:
    """One row of the study's table: a gate under one condition."""

    gate: str       # its name in full on its first row, short after
    condition: str
    tallies: judging.GateTallies


def _minutes(seconds: list[float]) -> str:
    if not seconds:
        return "n/a"
    low, high = min(seconds) / 60, max(seconds) / 60
    if high - low < 0.1:
        return f"{sum(seconds) / len(seconds) / 60:.1f} min"
    return f"{low:.0f}–{high:.0f} min"


def _effect(ratios: list[float]) -> str:
    low, high = (round(100 * (r - 1)) for r in (min(ratios), max(ratios)))
    return f"+{low} %" if low == high else f"+{low}–{high} %"


def _patch_alarms(tallies: judging.GateTallies) -> judging.Tally:
    """False alarms on unchanged benchmarks, over every patched comparison."""
    total = judging.Tally()
    for tally in tallies.patch_alarm.values():
        total.hits, total.total = total.hits + tally.hits, total.total + tally.total
    return total


def columns(changed: dict[str, list[float]], benchmarks: int) -> list[Column[Line]]:
    """The table's columns: detection for each patch that really changed a benchmark."""
    return [
        Column("gate", "left", lambda r: r.gate),
        Column("condition", "left", lambda r: r.condition),
        Column(f"false alarms per A/A comparison (any of {benchmarks} benchmarks)", "left",
               lambda r: r.tallies.aa_alarm.cell()),
        *(Column(f"detects `{p}` ({_effect(ratios)})", "left",
                 lambda r, p=p: r.tallies.detect[p].cell())
          for p, ratios in changed.items()),
        Column("false alarms in patched comparisons (unchanged benchmarks)", "left",
               lambda r: _patch_alarms(r.tallies).cell()),
        Column("mean blocks per comparison", "right", lambda r: _mean(r.tallies.blocks)),
        Column("wall time per comparison", "left", lambda r: _minutes(r.tallies.seconds)),
    ]


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.1f}" if values else "n/a"


def table(result: dict, settings: Settings, looks: tuple[Look, ...]) -> str:
    effects = {p: sorted(((short_name(k), e[0]) for k, e in eff.items()
                          if e[0] >= 1 + judging.REAL_CHANGE), key=lambda ke: -ke[1])
               for p, eff in result["effects"].items()}
    lines = ["True effects (long quiet run of each patch; benchmarks changed by "
             f">= {judging.REAL_CHANGE * 100:g} %):", ""]
    for patch in PATCHES:
        if patch.name in effects:
            changed = ", ".join(f"{k} {100 * (r - 1):+.0f} %" for k, r in effects[patch.name])
            lines.append(f"- `{patch.name}`: {patch.what}: {changed or 'none'}")
    schedule = ", ".join(str(look.blocks) for look in looks)
    names = {"ours": (f"ours: `python -m bench ab` (looks at {schedule} blocks, "
                      f"±{settings.threshold * 100:g} %, "
                      f"{settings.alpha * 100:g} % family-wise, {settings.statistic})", "ours"),
             "fixed": (f"ours at one look: `python -m bench ab --processes "
                       f"{result.get('fixed_blocks')}` (no stopping early)", "ours at one look"),
             "previous": ("previous single-run gate (1 process a side, run noise "
                          f"{previous.RUN_NOISE * 100:g} %)", "previous single-run gate"),
             "stock": (f"stock `--benchmark-compare-fail=mean:{previous.STOCK_PERCENT}%` "
                       "(1 process a side)", "stock")}
    rows = [Line(names[gate][index > 0], condition, data["tallies"][gate])
            for gate in names if result.get("fixed_blocks") or gate != "fixed"
            for index, (condition, data) in enumerate(result["conditions"].items())]
    changed = {p: [r for _, r in found] for p, found in effects.items() if found}
    benchmarks = max((len(eff) for eff in result["effects"].values()), default=0)
    return "\n".join([*lines, "", *table_lines(columns(changed, benchmarks), rows),
                      *calibration_lines(result)])


def calibration_lines(result: dict) -> list[str]:
    """What the A/A groups say of the intervals themselves (bench.gate.study.calibration)."""
    found = {c: d["calibration"] for c, d in result["conditions"].items() if d.get("calibration")}
    if not found:
        return []
    blocks = next(iter(found.values()))["blocks"]
    lines = ["", f"Calibration: the A/A groups split into disjoint comparisons of {blocks} "
             "blocks; per-benchmark intervals whose true ratio 1 lies beyond their 95 % and "
             "99 % t quantiles (expected: 5 % and 1 %); and the false alarms per A/A "
             "comparison that each benchmark's spread, measured over all the condition's A/A "
             "groups, implies for the sequential rule (summed over benchmarks and looks: an "
             "upper bound under the model; in brackets with every spread at its 95 % upper "
             "bound):", ""]
    for condition, c in found.items():
        beyond = "; ".join(f"beyond {level} %: {judging.Tally(hits, c['intervals']).cell()}"
                           for level, hits in c["misses"].items())
        lines.append(f"- {condition}: {c['comparisons']} comparisons, {c['intervals']} "
                     f"intervals; {beyond}; implied false alarms per A/A comparison "
                     f"{_share(c['implied'])} ({_share(c['implied_upper'])}), "
                     f"{c['benchmarks']} benchmarks")
    return lines


def _share(p: float) -> str:
    return f"{p * 100:.2g} %"


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m bench study", __doc__)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="folder of the study (default .benchmarks/study/<time>)")
    where.add_argument("--from", dest="source", type=Path, help="judge a recorded study again")
    p.add_argument("--groups", type=int, default=2 * DEFAULT_MAX_PROCESSES,
                   help="groups of one process per tree, half of them noisy (default: enough "
                        "for each condition to reach the last look)")
    p.add_argument("--truth", type=int, default=16, help="blocks of each patch's long run")
    p.add_argument("--fixed", type=int, default=FIXED, metavar="N",
                   help="also judge our gate at one look of N blocks, for what stopping early "
                        f"saves (default {FIXED}, the gate's former blocks; 0: not)")
    p.add_argument("--comparisons", type=int, default=200,
                   help="random orders of groups our gate judges, per condition and tree")
    p.add_argument("-k", dest="subset", default=DEFAULT_SUBSET)
    p.add_argument("--max-time", type=float, default=DEFAULT_MAX_TIME)
    p.add_argument("--seed", type=int, default=7)
    add_look_arguments(p)
    args = p.parse_args(argv)
    settings = Settings()
    try:
        looks = looks_from(args, settings.alpha)
        if args.fixed == 1 or args.fixed < 0:
            raise ValueError(f"--fixed must be 0 (none) or at least 2 blocks, got {args.fixed}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    started = time.perf_counter()
    folder = args.source
    if folder is None:
        root = repository_root(Path.cwd())
        folder = (args.out or root / ".benchmarks" / "study" / time.strftime("%Y%m%d-%H%M%S")).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        options = dict(subset=args.subset, max_time=args.max_time, seed=args.seed)
        with ExitStack() as stack:
            # Processes forked from a server per tree, as bench ab's are.
            trees = {name: replace(tree, server=stack.enter_context(
                         forkserver.serving(tree.path, tree.env, fixed_layout=True)))
                     for name, tree in prepare_trees(root, folder / "trees").items()}
            for patch in PATCHES:
                record(folder / "truth" / patch.name, trees, [BASE, patch.name], args.truth,
                       noisy_share=0.0, **options)
            record(folder / "main", trees, [BASE, SAME, *(p.name for p in PATCHES)],
                   args.groups, noisy_share=0.5, **options)
        (folder / "study-settings.json").write_text(json.dumps(vars(args), default=str, indent=1))
    result = judging.judge(folder, looks=looks, comparisons=args.comparisons, seed=args.seed,
                           settings=settings, fixed=args.fixed)
    text = table(result, settings, looks)
    print(text)
    (folder / "study.md").write_text(text + "\n", encoding="utf-8")
    (folder / "study.json").write_text(json.dumps(result, default=_tally_json, indent=1))
    print(f"\nstudy in {folder}; {time.perf_counter() - started:.0f} s")
    return Exit.OK


def _tally_json(value):
    if isinstance(value, judging.Tally):
        return {"hits": value.hits, "total": value.total}
    if isinstance(value, judging.GateTallies):
        return {"aa_alarm": value.aa_alarm, "patch_alarm": dict(value.patch_alarm),
                "detect": dict(value.detect), "seconds": value.seconds, "blocks": value.blocks}
    raise TypeError(type(value))


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench study", extra="test")
