"""Saved runs as series: one per machine and benchmark, one point per run.

Runs are split by machine first: timings from different machines or
environments (every bench.runs.KIND_FIELDS value: CPU, GPU, Python, torch,
threads, timer, ...) differ by more than any change worth finding, so each
machine gets series of its own and none mixes them. Hosts of one kind share
series: hosted CI runners are fresh hosts of the same kind on every push.

Within a machine runs are ordered by their commit's time (commit_info), then
by when they ran (several runs of one commit), the run's own time standing in
for a run that records no commit. A point is one run's median of the
benchmark's normalized samples, normalized as the gate does
(runs.resolve_normalization("auto") decided on the series' first run), with
its exact interval (interval.py). A run saved without raw samples has no
point; a benchmark timed against another reference starts a series of its
own, since ratios to different references say nothing about each other.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np

from bench import runs
from bench.runs import KIND_FIELDS, Benchmark, Run

from .interval import median_interval

_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Machine:
    """Runs measured in one environment, in series order."""

    number: int                 # 1, 2, ... in order of each machine's first run
    fields: dict[str, str]      # KIND_FIELDS -> value
    runs: list[Run]

    @property
    def label(self) -> str:
        return f"machine {self.number}"


@dataclass(frozen=True)
class Point:
    position: int               # the run's index in its machine's order (the plots' x)
    run: Run
    value: float                # median normalized sample
    low: float
    high: float


@dataclass(frozen=True)
class Series:
    key: str                    # the benchmark's fullname
    name: str
    group: str
    label: str                  # what the plot's legend calls it
    machine: Machine
    mode: str                   # the resolved normalization
    reference: str | None
    points: list[Point]

    @property
    def logs(self) -> np.ndarray:
        return np.log([p.value for p in self.points])


def when(run: Run) -> datetime:
    """The commit's time, else the run's; timezone-less times are taken as UTC."""
    return _parse(run.commit.time) or _parse(run.datetime) or _EARLIEST


def commit_label(run: Run) -> str:
    """The commit id shortened, marked + when the working tree had changes."""
    if not run.commit.id:
        return "-"
    return run.commit.id[:10] + ("+" if run.commit.dirty else "")


def order(all_runs: list[Run]) -> list[Run]:
    return sorted(all_runs, key=lambda r: (when(r), _parse(r.datetime) or _EARLIEST, r.id))


def machines(all_runs: list[Run]) -> list[Machine]:
    """The runs split by their KIND_FIELDS values, each part in series order."""
    parts: dict[tuple[str, ...], list[Run]] = {}
    for run in order(all_runs):
        parts.setdefault(tuple(run.machine[f] for f in KIND_FIELDS), []).append(run)
    return [Machine(number, dict(zip(KIND_FIELDS, values)), members)
            for number, (values, members) in enumerate(parts.items(), start=1)]


def build(machine: Machine) -> tuple[list[Series], int]:
    """Every series of one machine, and how many benchmarks had no raw samples."""
    found: dict[tuple[str, str | None], list[tuple[int, Run, Benchmark]]] = {}
    skipped = 0
    for position, run in enumerate(machine.runs):
        for bench in run.benchmarks.values():
            if bench.samples is None or bench.reference is None:
                skipped += 1
                continue
            found.setdefault((bench.key, bench.reference_name), []).append((position, run, bench))
    series = [_series(machine, entries) for entries in found.values()]
    return _labelled(series), skipped


def _series(machine: Machine, entries: list[tuple[int, Run, Benchmark]]) -> Series:
    first = entries[0][2]
    mode = runs.resolve_normalization("auto", first)
    points = [Point(position, run, *median_interval(bench.normalized(mode)))
              for position, run, bench in entries]
    kernel = first.workload.kernel if first.workload else first.name
    return Series(key=first.key, name=first.name, group=first.group or "ungrouped",
                  label=kernel, machine=machine, mode=mode, reference=first.reference_name,
                  points=points)


def _labelled(series: list[Series]) -> list[Series]:
    """Legend labels unique within a group: the kernel, else the test's parameters."""
    kernels = Counter((s.group, s.label) for s in series)
    names = Counter((s.group, s.name) for s in series)
    out = []
    for s in series:
        label = s.label
        if kernels[s.group, s.label] > 1:
            label = s.name.partition("[")[2].rstrip("]") or s.name
        if names[s.group, s.name] > 1:
            label += f" (vs {s.reference})"
        out.append(replace(s, label=label))
    return out


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
