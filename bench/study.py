"""Gate study: how often each gate cries wolf, and how often it catches a slowdown.

    python -m bench.study [--unchanged 10] [--per-effect 6] [--effects 0.05,0.10,0.20]
        [--kernel einsum] [--subset "rows5] or rows500]"] [--max-time 0.3]
        [--threads 1] [--clock cpu|wall] [--out DIR | --from DIR]
        [gate settings: --threshold --small-threshold --confidence --run-noise --normalise]

Runs the benchmark subset in fresh pytest processes, all on one snapshot of the
working tree (DIR/tree), so edits made meanwhile do not leak into "unchanged"
runs: one baseline run, then unchanged runs and runs with
MATMUL_BENCH_SLOWDOWN="<kernel>=<effect>", in a shuffled (seeded) order so
that drift over the session hits both kinds alike. Each saved run stays in DIR
(manifest.json lists them); --from DIR judges them again without measuring,
e.g. with other gate settings.

Both gates judge the very same saved runs:
- ours: bench.gate.compare with the settings given;
- stock: pytest-benchmark's --benchmark-compare-fail=mean:10%, applied to the
  saved JSON with its own rule (PercentageRegressionCheck: candidate mean /
  baseline mean * 100 - 100 > 10), which is what it computes on a compare.

Comparisons: false alarms over every pair of unchanged runs (the baseline
included; the earlier run is the baseline), detection over every slowed run
against every unchanged run. Pairs share runs, so they are not independent:
the intervals printed (Clopper-Pearson, 95 %) are optimistic. Only benchmarks
of SMALL_TIME (10 µs) or more in the first baseline count for the targets.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import gate, runs, timing
from .mnist import local_mnist_dir
from .units import format_time

ROOT = Path(__file__).resolve().parent.parent
BENCH_FILE = "tests/benchmarks/test_matmul_benchmarks.py"
STOCK_PERCENT = 10  # --benchmark-compare-fail=mean:10%
MODES = ("pair", "run", "none")  # the spread table shows each


@dataclass(frozen=True)
class Sample:
    path: Path
    effect: float  # injected slowdown of the study's kernel, 0.0 = unchanged code
    run: runs.Run


# ---------------------------------------------------------------- measuring

def snapshot(tree: Path) -> Path:
    """Copy the working tree (tracked and untracked, not ignored files) to tree.

    "Unchanged code" has to stay unchanged for the whole study, even while
    people keep editing the checkout it was started from.
    """
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = tree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return tree


def measure(out: Path, label: str, *, tree: Path, subset: str, max_time: float,
            threads: int, clock: str, slowdown: str) -> Path:
    """One pytest process over the subset, saved with raw samples to out/label.json."""
    path = (out / f"{label}.json").resolve()
    env = dict(os.environ)
    env.pop(timing.SLOWDOWN_ENV, None)
    # Found from here: the snapshot the runs use lies elsewhere.
    directory = local_mnist_dir()
    if directory:
        env["MNIST_DIR"] = str(directory)
    if slowdown:
        env[timing.SLOWDOWN_ENV] = slowdown
    if threads:
        # torch and numba read these once, at import. NUMBA too: a parallel numba
        # kernel otherwise resets the OpenMP thread count for the torch calls after it.
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[name] = str(threads)
    command = [sys.executable, "-m", "pytest", BENCH_FILE, "-q", "-p", "no:cacheprovider",
               "--benchmark-enable", "--benchmark-save-data", f"--benchmark-json={path}",
               f"--benchmark-max-time={max_time}", "--benchmark-columns=median,rounds",
               "-k", subset]
    if clock == "cpu":
        command += ["--benchmark-timer=time.process_time"]
    done = subprocess.run(command, check=False, cwd=tree, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark run {label} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return path


def schedule(unchanged: int, per_effect: int, effects: list[float], seed: int) -> list[float]:
    """Effects of the runs after the baseline, shuffled with a fixed seed."""
    order = [0.0] * unchanged + [e for e in effects for _ in range(per_effect)]
    random.Random(seed).shuffle(order)
    return order


def record(args, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    order = [0.0] + schedule(args.unchanged, args.per_effect, args.effects, args.seed)
    tree = snapshot(out / "tree")
    manifest = {"kernel": args.kernel, "subset": args.subset, "max_time": args.max_time,
                "threads": args.threads, "clock": args.clock, "runs": []}
    start = time.perf_counter()
    for index, effect in enumerate(order):
        label = f"{index:03d}-{'baseline' if index == 0 else f'slow{effect:g}'}"
        slowdown = f"{args.kernel}={effect:g}" if effect else ""
        path = measure(out, label, tree=tree, subset=args.subset, max_time=args.max_time,
                       threads=args.threads, clock=args.clock, slowdown=slowdown)
        manifest["runs"].append({"file": path.name, "effect": effect})
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
        print(f"[{time.perf_counter() - start:6.0f} s] run {index + 1}/{len(order)} "
              f"{slowdown or 'unchanged'}", flush=True)


def load(out: Path) -> tuple[dict, list[Sample]]:
    manifest = json.loads((out / "manifest.json").read_text())
    samples = [Sample(out / r["file"], float(r["effect"]), runs.load(out / r["file"]))
               for r in manifest["runs"]]
    return manifest, samples


# ---------------------------------------------------------------- judging

def ours(base: runs.Run, cand: runs.Run, settings: dict) -> set[str]:
    """Keys that our gate calls regressed."""
    return {v.key for v in gate.compare(base, cand, **settings) if v.verdict == "regressed"}


def stock(base: runs.Run, cand: runs.Run) -> set[str]:
    """Keys that --benchmark-compare-fail=mean:10% fails (pytest-benchmark's own formula)."""
    return {key for key, c in cand.benchmarks.items()
            if key in base.benchmarks
            and c.mean / base.benchmarks[key].mean * 100 - 100 > STOCK_PERCENT}


@dataclass
class Tally:
    hits: int = 0
    trials: int = 0

    def add(self, hit: bool) -> None:
        self.hits += bool(hit)
        self.trials += 1

    def cell(self) -> str:
        if not self.trials:
            return "-"
        rate = self.hits / self.trials
        text = f"{rate * 100:.1f} % ({self.hits}/{self.trials})"
        low, high = _clopper_pearson(self.hits, self.trials)
        return text if low is None else f"{text} [{low * 100:.1f}, {high * 100:.1f}]"


def _clopper_pearson(k: int, n: int) -> tuple[float | None, float | None]:
    try:
        from scipy.stats import binomtest
    except ImportError:  # the study runs without scipy; it just prints no interval
        return None, None
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def judge(manifest: dict, samples: list[Sample], settings: dict,
          exclude: tuple[str, ...] = ()) -> dict:
    kernel = manifest["kernel"]
    first = samples[0].run
    kept = {k for k in first.benchmarks if not any(part in k for part in exclude)}
    large = {k for k in kept if first.benchmarks[k].median >= gate.SMALL_TIME}
    slowed = {k for k in large
              if json_kernel(samples[0], k) == kernel}
    unchanged = [s for s in samples if s.effect == 0]
    effects = sorted({s.effect for s in samples if s.effect})
    gates = {"ours": lambda b, c: ours(b, c, settings), "stock": stock}
    others = large - slowed
    result = {name: {"alarms": Tally(), "alarms_all": Tally(), "alarms_others": Tally(),
                     "by_key": {},
                     **{e: Tally() for e in effects}} for name in gates}
    for name, flags in gates.items():
        tally = result[name]
        for base, cand in itertools.combinations(unchanged, 2):
            flagged = flags(base.run, cand.run)
            tally["alarms"].add(flagged & large)
            tally["alarms_all"].add(flagged & kept)
            for key in flagged:
                tally["by_key"][key] = tally["by_key"].get(key, 0) + 1
        for cand in (s for s in samples if s.effect):
            for base in unchanged:
                flagged = flags(base.run, cand.run)
                for key in slowed:
                    tally[cand.effect].add(key in flagged)
        # Every run, slowed or not, is unchanged code for the other kernels:
        # all pairs of runs give many more comparisons for the false-alarm rate.
        for base, cand in itertools.combinations(samples, 2):
            tally["alarms_others"].add(flags(base.run, cand.run) & others)
    result["_meta"] = {"large": len(large), "slowed": sorted(slowed), "others": len(others),
                       "runs": len(samples),
                       "unchanged": len(unchanged), "effects": effects,
                       "per_effect": {e: sum(s.effect == e for s in samples) for e in effects}}
    return result


def json_kernel(sample: Sample, key: str) -> str | None:
    """extra_info['kernel'] of a benchmark (bench.runs keeps only what the gate needs)."""
    document = json.loads(sample.path.read_text())
    for entry in document["benchmarks"]:
        if entry.get("fullname") == key:
            return entry.get("extra_info", {}).get("kernel")
    return None


def spread(samples: list[Sample]) -> list[tuple[str, str, float, int, list[float]]]:
    """Per benchmark: median time, rounds, and for each normalisation the relative
    standard deviation of its median across the unchanged runs: the noise
    between processes that the gate's run_noise stands for."""
    unchanged = [s.run for s in samples if s.effect == 0]
    rows = []
    for key, bench in unchanged[0].benchmarks.items():
        sds = []
        for mode in MODES:
            medians = [float(np.median(r.benchmarks[key].normalised(mode))) for r in unchanged
                       if key in r.benchmarks]
            sd = float(np.std(np.log(medians), ddof=1)) if len(medians) > 1 else math.nan
            sds.append(math.expm1(sd))
        rows.append((key, key.rpartition("::")[2], bench.median, len(bench.samples), sds))
    return rows


def report(manifest: dict, samples: list[Sample], settings: dict,
           exclude: tuple[str, ...] = ()) -> str:
    result = judge(manifest, samples, settings, exclude)
    meta = result.pop("_meta")
    effects = meta["effects"]
    n_pairs = meta["unchanged"] * (meta["unchanged"] - 1) // 2
    lines = [
        f"Gate study: {meta['unchanged']} unchanged runs (baseline included), "
        + ", ".join(f"{meta['per_effect'][e]} with {manifest['kernel']} {e * 100:+g} %"
                    for e in effects)
        + f"; subset -k \"{manifest['subset']}\", --benchmark-max-time={manifest['max_time']}, "
        f"threads={manifest['threads'] or 'torch default'}, "
        f"clock={manifest.get('clock', 'wall')}."
        + (f" Left out of the counts: benchmarks matching {', '.join(exclude)}."
           if exclude else ""),
        (f"False alarms: {n_pairs} comparisons (every pair of unchanged runs), a comparison "
         f"alarms if any of the {meta['large']} benchmarks >= 10 µs is flagged. Detection: "
         f"each slowed run against each unchanged run, per slowed benchmark >= 10 µs "
         f"({', '.join(k.rpartition('::')[2] for k in meta['slowed'])}). "
         "[95 % Clopper-Pearson interval; pairs share runs, so it is optimistic.]"),
        "",
        (f"Also every pair of all {meta['runs']} runs "
         f"({meta['runs'] * (meta['runs'] - 1) // 2} comparisons) for the "
         f"{meta['others']} benchmarks >= 10 µs of the other kernels, unchanged in every run."),
        "",
        "| gate | false alarms per run (>= 10 µs) | false alarms per run (all) | "
        "false alarms per run, all pairs, other kernels | "
        + " | ".join(f"detects {e * 100:+g} %" for e in effects) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in effects) + " |",
    ]
    names = {"ours": "ours: `python -m bench.gate` "
                     f"(±{settings['threshold'] * 100:g} %, {settings['confidence'] * 100:g} %, "
                     f"run noise {settings['run_noise'] * 100:g} %, "
                     f"normalise {settings['normalise']})",
             "stock": f"stock `--benchmark-compare-fail=mean:{STOCK_PERCENT}%`"}
    by_key = {name: tally.pop("by_key") for name, tally in result.items()}
    for name, tally in result.items():
        cells = [tally["alarms"].cell(), tally["alarms_all"].cell(), tally["alarms_others"].cell()]
        cells += [tally[e].cell() for e in effects]
        lines.append(f"| {names[name]} | " + " | ".join(cells) + " |")
    modes = MODES
    lines += ["", ("Per benchmark: run-to-run spread (relative standard deviation over the "
                   "unchanged runs) of the median the gate compares, per normalisation, and "
                   f"false alarms among the {n_pairs} unchanged pairs, ours / stock:"), "",
              "| benchmark | median | rounds | " + " | ".join(modes) + " | false alarms |",
              "| --- | --- | --- | " + " | ".join("---" for _ in modes) + " | --- |"]
    lines += [f"| {name} | {format_time(median)} | {rounds} | "
              + " | ".join(f"{sd * 100:.1f} %" for sd in sds)
              + f" | {by_key['ours'].get(key, 0)} / {by_key['stock'].get(key, 0)} |"
              for key, name, median, rounds, sds in spread(samples)]
    return "\n".join(lines)


# ---------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.study", description=__doc__.split("\n\n")[1])
    p.add_argument("--unchanged", type=int, default=10, help="runs of unchanged code after the baseline")
    p.add_argument("--per-effect", type=int, default=6, help="slowed runs per effect size")
    p.add_argument("--effects", default="0.05,0.10,0.20",
                   type=lambda s: [float(x) for x in s.split(",") if x])
    p.add_argument("--kernel", default="einsum", help="kernel to slow down")
    p.add_argument("--subset", default="rows5] or rows500]", help="pytest -k expression")
    p.add_argument("--max-time", type=float, default=0.3, help="--benchmark-max-time per benchmark")
    p.add_argument("--threads", type=int, default=1,
                   help="OMP_NUM_THREADS for the runs (0: torch's default, one per core)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                   help="cpu (default): process CPU time (--benchmark-timer=time.process_time) "
                        "for both halves of each pair; wall: time.perf_counter")
    p.add_argument("--seed", type=int, default=7, help="seed of the run order")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="folder for the saved runs "
                       "(default .benchmarks/study/<time>)")
    where.add_argument("--from", dest="source", type=Path,
                       help="judge the runs saved in this folder, measure nothing")
    p.add_argument("--exclude", action="append", default=[], metavar="PART",
                   help="leave benchmarks whose name contains PART out of the counts "
                        "(still in the spread table); repeatable")
    p.add_argument("--threshold", type=float, default=gate.THRESHOLD)
    p.add_argument("--small-threshold", type=float, default=gate.SMALL_THRESHOLD)
    p.add_argument("--confidence", type=float, default=gate.CONFIDENCE)
    p.add_argument("--run-noise", type=float, default=gate.RUN_NOISE)
    p.add_argument("--normalise", choices=runs.NORMALISATIONS, default=gate.NORMALISE)
    args = p.parse_args(argv)

    start = time.perf_counter()
    out = args.source
    if out is None:
        out = args.out or ROOT / ".benchmarks" / "study" / time.strftime("%Y%m%d-%H%M%S")
        record(args, out)
    manifest, samples = load(out)
    settings = {"threshold": args.threshold, "small_threshold": args.small_threshold,
                "confidence": args.confidence, "run_noise": args.run_noise,
                "normalise": args.normalise}
    print(report(manifest, samples, settings, tuple(args.exclude)))
    print(f"\nruns in {out}; total time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
