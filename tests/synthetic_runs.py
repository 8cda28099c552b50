"""Synthetic saved runs, built like the suite's gate-ready runs: pytest-benchmark
JSON with raw samples and the paired reference, from lognormal samples with
fixed seeds. Rounds vary within a process, and every process is shifted as a
whole (process_sigma): the noise between processes the gate must measure."""
from __future__ import annotations

import numpy as np

from bench import runs
from bench.runs import Environment, Workload

MODULE = "tests/benchmarks/test_matmul_benchmarks.py::"
PROCESS_SIGMA = 0.02


def make_run(benchmarks: dict[str, float], *, seed: int, factors: dict[str, float] | None = None,
             process_sigma: float = PROCESS_SIGMA, rounds: int = 200, node: str = "vm",
             cpu: str = "AMD EPYC", torch: str = "2.13.0+cpu", threads: int = 1,
             slowdown: float = 0.0, thresholds: dict[str, float] | None = None,
             commit: str = "abc", commit_time: str | None = "2026-11-29T00:00:00+00:00",
             ran: str = "2026-11-29T00:00:00", peaks: dict[str, int] | None = None,
             tracking: str | None = None, reference: str = "builtin",
             shared: float | None = None, first_slow: float = 0.0) -> dict:
    """A saved run of one process: {name: median seconds}; factors slow (>1) a benchmark;
    peaks gives benchmarks the peak bytes one call allocated (runs.Memory); tracking
    names an alternative reference timed in every round that shifts with the
    process as the benchmark does (the primary one, named `reference`, does not).
    shared: each round's core is shared with chance drawn per process (uniform
    on 0..1), as on round 3's Zen 4 VM (bench.gate.calm): the benchmark then
    runs `shared` times slower, its reference 1.1x and the tracking
    alternative 1.6x (give tracking="fma", the calm probe). first_slow: the
    share of rounds in which the probe's reading also pays 2x for what came
    before it, unrelated to the core; then its second reading (fma_again,
    bench.gate.calm.AGAIN) is recorded too, and reads the core alone."""
    rng = np.random.default_rng(seed)
    reference_name = reference
    entries = []
    for name, median in benchmarks.items():
        shift = rng.lognormal(0.0, process_sigma)        # this process as a whole
        drift = rng.lognormal(0.0, 0.03, rounds)           # shared by both halves of a round
        reference = 20e-6 * drift * rng.lognormal(0.0, 0.01, rounds)
        data = median * (factors or {}).get(name, 1.0) * shift * drift * rng.lognormal(0, 0.01, rounds)
        # Drawn only where timed, so runs without it keep their random stream.
        probe = 10e-6 * shift * drift * rng.lognormal(0.0, 0.01, rounds) if tracking else None
        if shared is not None:
            busy = rng.random(rounds) < rng.random()
            data, reference = data * np.where(busy, shared, 1.0), reference * np.where(busy, 1.1, 1.0)
            probe = None if probe is None else probe * np.where(busy, 1.6, 1.0)
        probes = {} if probe is None else {tracking: probe}
        if first_slow and probe is not None:
            probes["fma_again"] = probe * rng.lognormal(0.0, 0.01, rounds)
            probes[tracking] = probe * np.where(rng.random(rounds) < first_slow, 2.0, 1.0)
        kernel = name.split("-")[0]
        info = runs.extra_info(Workload("matmul", kernel, 5, 1000, 1000),
                               Environment(torch, threads, "cpu", slowdown),
                               reference_name, reference.tolist(),
                               memory=(runs.Memory(peaks[name], 10, 200)
                                       if name in (peaks or {}) else None),
                               alternatives={n: t.tolist() for n, t in probes.items()} or None)
        if name in (thresholds or {}):
            info[runs.GATE_THRESHOLD] = thresholds[name]
        entries.append({
            "group": "matmul", "name": f"test_matmul[{name}]",
            "fullname": MODULE + f"test_matmul[{name}]",
            "options": {"timer": "process_time"},
            "stats": {"data": data.tolist(), "mean": float(data.mean()), "min": float(data.min()),
                      "median": float(np.median(data)), "rounds": rounds},
            "extra_info": info,
        })
    return {
        "machine_info": {"node": node, "machine": "x86_64", "python_implementation": "CPython",
                         "python_version": "3.11.7", "cpu": {"brand_raw": cpu, "count": 2}},
        "commit_info": {"id": commit, "time": commit_time, "dirty": False},
        "benchmarks": entries, "datetime": ran, "version": "5.2.3",
    }


def block_folders(folder, benchmarks: dict[str, float], blocks: int):
    """folder/base and folder/candidate with one run per block, as `bench ab` writes
    them, from the same code (an A/A comparison)."""
    import json

    for index in range(blocks):
        for side, offset in (("base", 0), ("candidate", 1)):
            path = folder / side / f"block-{index + 1:03d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(make_run(benchmarks, seed=2 * index + offset)))
    return folder / "base", folder / "candidate"
