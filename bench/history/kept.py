"""A run's kept form: per benchmark, only what the history reads.

A gate-ready saved run holds every raw sample of every benchmark and of its
paired reference (megabytes). The history needs, per benchmark, one point:
the median of its normalized samples with its exact interval
(interval.median_interval), for each normalization auto may choose (pair,
none), plus the span that auto decides by, the sample count, the workload and
environment, and per run the machine fields, commit and time. That is one row
per benchmark, the same columns for every run, so a kept run is a small
table (KEPT_COLUMNS) and many kept runs are one table any columnar engine reads
(store.py). A saved run read by `bench history` is summarized into exactly
these rows first, so kept and full runs give the same history.
"""
from __future__ import annotations

import json

import pyarrow as pa

from bench.runs import MACHINE_FIELDS, Run

from .interval import median_interval

# The normalizations a history point may use: the two runs.auto_normalization picks from.
KEPT_MODES = ("pair", "none")

RUN_COLUMNS = [
    ("run", pa.string()),            # the saved run's id (its file stem)
    *[(name, pa.string()) for name in MACHINE_FIELDS],
    ("commit", pa.string()),
    ("commit_time", pa.string()),
    ("dirty", pa.bool_()),
    ("branch", pa.string()),
    ("datetime", pa.string()),       # when the run ran
]
BENCHMARK_COLUMNS = [
    ("order", pa.int32()),           # the benchmark's place in its run
    ("key", pa.string()),
    ("name", pa.string()),
    ("group", pa.string()),
    ("reference", pa.string()),
    ("span", pa.float64()),          # median time / median reference time (auto's rule)
    ("samples", pa.int32()),         # valid samples the point is the median of
    *[(f"{mode}_{part}", pa.float64()) for mode in KEPT_MODES
      for part in ("median", "low", "high")],
    ("suite", pa.string()),          # the workload (null: not timed by the suite's plugin)
    ("kernel", pa.string()),
    ("rows", pa.int64()),
    ("flops", pa.int64()),
    ("bytes", pa.int64()),
    ("params", pa.string()),         # JSON
    ("device", pa.string()),         # the environment
    ("slowdown", pa.float64()),
    ("peak_bytes", pa.int64()),      # one call's peak allocation (null: not measured)
]
KEPT_SCHEMA = pa.schema(RUN_COLUMNS + BENCHMARK_COLUMNS)
KEPT_COLUMNS = KEPT_SCHEMA.names


def summarize(run: Run) -> tuple[pa.Table, int]:
    """The run's kept rows, and how many of its benchmarks had no raw samples or
    paired reference (left out: they have no point)."""
    rows: dict[str, list] = {name: [] for name in KEPT_COLUMNS}
    skipped = 0
    for order, bench in enumerate(run.benchmarks.values()):
        if bench.samples is None or bench.reference is None:
            skipped += 1
            continue
        workload, environment = bench.workload, bench.environment
        values = {
            "order": order, "key": bench.key, "name": bench.name, "group": bench.group,
            "reference": bench.reference_name, "span": bench.span,
            "samples": len(bench.samples),
            "suite": workload and workload.suite, "kernel": workload and workload.kernel,
            "rows": workload and workload.rows, "flops": workload and workload.flops,
            "bytes": workload and workload.bytes,
            "params": json.dumps(workload.params, sort_keys=True) if workload else None,
            "device": environment and environment.device,
            "slowdown": environment and environment.slowdown,
            "peak_bytes": bench.memory.peak_bytes if bench.memory else None,
        }
        for mode in KEPT_MODES:
            median, low, high = median_interval(bench.normalized(mode))
            values.update({f"{mode}_median": median, f"{mode}_low": low, f"{mode}_high": high})
        for name, value in {**_run_values(run), **values}.items():
            rows[name].append(value)
    return pa.table(rows, schema=KEPT_SCHEMA), skipped


def _run_values(run: Run) -> dict:
    return {"run": run.id, **{name: run.machine[name] for name in MACHINE_FIELDS},
            "commit": run.commit.id, "commit_time": run.commit.time,
            "dirty": run.commit.dirty, "branch": run.commit.branch, "datetime": run.datetime}
