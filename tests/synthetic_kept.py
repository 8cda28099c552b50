"""Synthetic kept runs (bench/history/kept.py rows), built directly, fast at any scale:
runs alternate between machine kinds, one commit an hour; every run's points are
shifted by lognormal noise (the noise between runs); a step can be injected."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.history import store
from bench.history.kept import KEPT_SCHEMA

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
GROUPS = {"matmul x_train[:5]": 9, "matmul x_train[:50]": 9, "matmul x_train[:500]": 9,
          "matmul x_train[:5000]": 8, "matmul x_train[:50000]": 4, "forward": 12,
          "roofline": 5, "tile sweep": 5}  # 61 benchmarks, as in the full suite
KINDS = ("AMD EPYC x2", "Intel Xeon x4")
MODULE = "tests/benchmarks/test_matmul_benchmarks.py::"


def benchmark_names() -> list[tuple[str, str]]:
    """(group, name) of the suite's 61 benchmarks, stand-ins."""
    return [(group, f"test_{group.split()[0]}[k{i}-{group.split()[-1]}]")
            for group, count in GROUPS.items() for i in range(count)]


def kept_table(runs: int, *, step_at: int | None = None, step: float = 1.10,
               stepped: int = 0, kinds: int = 2, sigma: float = 0.01, seed: int = 0,
               benchmarks: int | None = None) -> pa.Table:
    """Every run's rows in one table, run after run; with step_at, benchmark number
    `stepped` on the first machine kind is `step` times slower from that run index on.
    benchmarks: only the first that many of the suite's."""
    rng = np.random.default_rng(seed)
    names = benchmark_names()[:benchmarks]
    count = len(names)
    base = np.exp(rng.uniform(-2, 3, count))
    values = base * rng.lognormal(0.0, sigma, (runs, count))
    index = np.arange(runs)
    if step_at is not None:
        values[step_at:, stepped] *= np.where(index[step_at:] % kinds == 0, step, 1.0)
    values = values.ravel()
    run_of_row = np.repeat(index, count)
    ids = np.array([f"{i + 1:05d}" for i in index])
    moments = [START + timedelta(hours=int(i)) for i in index]
    per_run = {
        "run": ids, "node": np.array([f"runner-{i}" for i in index]),
        "cpu": np.array([KINDS[i % kinds] for i in index]),
        "commit": np.array([hashlib.sha1(i.encode()).hexdigest() for i in ids]),
        "commit_time": np.array([m.isoformat() for m in moments]),
        "datetime": np.array([(m + timedelta(minutes=5)).isoformat() for m in moments]),
    }
    constant = {"machine": "x86_64", "gpu": "none", "python": "CPython 3.11.7",
                "torch": "2.13.0+cpu", "threads": "1", "timer": "process_time",
                "dirty": False, "branch": "main", "reference": "builtin", "samples": 200,
                "rows": 5, "flops": 1000, "bytes": 1000, "params": "{}", "device": "cpu",
                "slowdown": 0.0, "peak_bytes": None}
    per_benchmark = {
        "order": np.arange(count), "key": np.array([MODULE + name for _, name in names]),
        "name": np.array([name for _, name in names]),
        "group": np.array([group for group, _ in names]),
        "suite": np.array([group.split()[0] for group, _ in names]),
        "kernel": np.array([name.partition("[")[2].partition("-")[0] for _, name in names]),
    }
    columns = {name: column[run_of_row] for name, column in per_run.items()}
    columns.update({name: np.tile(column, runs) for name, column in per_benchmark.items()})
    columns.update({name: np.full(runs * count, value) for name, value in constant.items()})
    columns.update({"span": values, "pair_median": values, "pair_low": values * 0.99,
                    "pair_high": values * 1.01, "none_median": values * 1e-5,
                    "none_low": values * 0.99e-5, "none_high": values * 1.01e-5})
    return pa.table({name: pa.array(columns[name], type=KEPT_SCHEMA.field(name).type)
                     for name in KEPT_SCHEMA.names}, schema=KEPT_SCHEMA)


def kept_tables(runs: int, **options):
    """(run id, its table) per run."""
    table = kept_table(runs, **options)
    count = len(benchmark_names())
    for index in range(runs):
        yield f"{index + 1:05d}", table.slice(index * count, count)


def write_store(folder: Path, runs: int, **options) -> list[Path]:
    return [store.write(table, folder, run_id)
            for run_id, table in kept_tables(runs, **options)]
