"""Kept rows as series: one per machine and benchmark, one point per run.

Runs are split by machine first: timings from different machines or
environments (every bench.runs.KIND_FIELDS value: CPU, GPU, Python, torch,
threads, timer, ...) differ by more than any change worth finding, so each
machine gets series of its own and none mixes them. Hosts of one kind share
series: hosted CI runners are fresh hosts of the same kind on every push.

Within a machine runs are ordered by their commit's time (commit_info), then
by when they ran (several runs of one commit), the run's own time standing in
for a run that records no commit. A point is one run's median of the
benchmark's normalized samples, normalized as the gate does (auto, decided on
the series' first run), with its exact interval: a kept row (kept.py) holds
both. A benchmark timed against another reference starts a series of its
own, since ratios to different references say nothing about each other.
Series hold their points as arrays, and the rows are grouped with numpy, so
10 000 runs of 61 benchmarks cost seconds, not a Python object per point.

Peak memory (a kept row's peak_bytes: one call's peak allocation) gives each
benchmark a second series, metric MEMORY, in a group of its own ("<group>,
peak memory"); its points are exact, their interval the point.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench import runs
from bench.runs import KIND_FIELDS, MACHINE_FIELDS, Commit

_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
TIME, MEMORY = "time", "peak memory"  # what a series follows


@dataclass(frozen=True)
class RunInfo:
    """What the history knows of a run besides its points."""

    id: str                     # the saved run's id (its file stem)
    machine: dict[str, str]     # MACHINE_FIELDS -> printable value
    commit: Commit
    datetime: str | None


@dataclass(frozen=True)
class Machine:
    """Runs measured in one environment, in series order."""

    number: int                 # 1, 2, ... in order of each machine's first run
    fields: dict[str, str]      # KIND_FIELDS -> value
    runs: list[RunInfo]

    @property
    def label(self) -> str:
        return f"machine {self.number}"


@dataclass(frozen=True)
class Point:
    position: int               # the run's index in its machine's order (the plots' x)
    run: RunInfo
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
    positions: np.ndarray       # per point: its run's position
    values: np.ndarray          # median normalized sample
    lows: np.ndarray
    highs: np.ndarray
    metric: str = TIME

    def point(self, index: int) -> Point:
        position = int(self.positions[index])
        return Point(position, self.machine.runs[position], float(self.values[index]),
                     float(self.lows[index]), float(self.highs[index]))

    @property
    def points(self) -> list[Point]:
        return [self.point(i) for i in range(len(self.positions))]

    @property
    def logs(self) -> np.ndarray:
        return np.log(self.values)


def when(run: RunInfo) -> datetime:
    """The commit's time, else the run's; timezone-less times are taken as UTC."""
    return _parse(run.commit.time) or _parse(run.datetime) or _EARLIEST


def commit_label(run: RunInfo) -> str:
    """The commit id shortened, marked + when the working tree had changes."""
    if not run.commit.id:
        return "-"
    return run.commit.id[:10] + ("+" if run.commit.dirty else "")


def order(all_runs: list[RunInfo]) -> list[RunInfo]:
    return sorted(all_runs, key=lambda r: (when(r), _parse(r.datetime) or _EARLIEST, r.id))


def machines(all_runs: list[RunInfo]) -> list[Machine]:
    """The runs split by their KIND_FIELDS values, each part in series order."""
    parts: dict[tuple[str, ...], list[RunInfo]] = {}
    for run in order(all_runs):
        parts.setdefault(tuple(run.machine[f] for f in KIND_FIELDS), []).append(run)
    return [Machine(number, dict(zip(KIND_FIELDS, values)), members)
            for number, (values, members) in enumerate(parts.items(), start=1)]


def build(run_table: pa.Table, rows: pa.Table) -> list[tuple[Machine, list[Series]]]:
    """Every machine with its series, from store.read's tables: one row per run, and
    one per run and benchmark."""
    infos = [RunInfo(id=r["run"], machine={f: r[f] for f in MACHINE_FIELDS},
                     commit=Commit(r["commit"], r["commit_time"], bool(r["dirty"]), r["branch"]),
                     datetime=r["datetime"]) for r in run_table.to_pylist()]
    found = machines(infos)
    machine_of = {info.id: machine.number - 1 for machine in found for info in machine.runs}
    position_of = {info.id: position for machine in found
                   for position, info in enumerate(machine.runs)}
    encoded = pc.dictionary_encode(rows["run"]).combine_chunks()
    ids = encoded.dictionary.to_pylist()
    run_of_row = encoded.indices.to_numpy(zero_copy_only=False)
    machine_of_row = np.array([machine_of[i] for i in ids], dtype=np.int64)[run_of_row]
    position_of_row = np.array([position_of[i] for i in ids], dtype=np.int64)[run_of_row]
    key_of_row = _codes(rows["key"])
    reference_of_row = _codes(pc.fill_null(rows["reference"], ""))
    ordered = np.lexsort((position_of_row, reference_of_row, key_of_row, machine_of_row))
    # a run read twice (kept and saved, or packed and single) has each row twice: keep one
    same = ((np.diff(machine_of_row[ordered]) == 0) & (np.diff(key_of_row[ordered]) == 0)
            & (np.diff(reference_of_row[ordered]) == 0)
            & (np.diff(position_of_row[ordered]) == 0))
    ordered = ordered[np.concatenate([[True], ~same])]
    parts = np.split(ordered, np.flatnonzero(
        np.diff(machine_of_row[ordered]) | np.diff(key_of_row[ordered])
        | np.diff(reference_of_row[ordered])) + 1)
    order_of_row = rows["order"].to_numpy()
    # first seen: by the run of a series' first point, then the benchmark's place in it
    parts.sort(key=lambda p: (machine_of_row[p[0]], position_of_row[p[0]], order_of_row[p[0]]))
    columns = {name: rows[name].to_numpy() for name in
               ("span", "pair_median", "pair_low", "pair_high",
                "none_median", "none_low", "none_high")}
    measured = pc.is_valid(rows["peak_bytes"]).to_numpy(zero_copy_only=False)
    peaks = pc.fill_null(rows["peak_bytes"], 0).to_numpy().astype(float)
    per_machine: list[list[Series]] = [[] for _ in found]
    for part in parts:
        number = machine_of_row[part[0]]
        per_machine[number].append(
            _series(found[number], rows, part, position_of_row[part], columns))
        per_machine[number] += _memory_series(per_machine[number][-1], part, peaks, measured)
    return [(machine, _labelled(series)) for machine, series in zip(found, per_machine)]


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    return pc.dictionary_encode(column).combine_chunks().indices.to_numpy(
        zero_copy_only=False).astype(np.int64)


def _series(machine: Machine, table: pa.Table, rows: np.ndarray, positions: np.ndarray,
            columns: dict[str, np.ndarray]) -> Series:
    first = table.slice(int(rows[0]), 1).to_pylist()[0]
    mode = runs.auto_normalization(float(columns["span"][rows[0]]))
    return Series(key=first["key"], name=first["name"], group=first["group"] or "ungrouped",
                  label=first["kernel"] or first["name"], machine=machine, mode=mode,
                  reference=first["reference"], positions=positions,
                  values=columns[f"{mode}_median"][rows], lows=columns[f"{mode}_low"][rows],
                  highs=columns[f"{mode}_high"][rows])


def _memory_series(timed: Series, part: np.ndarray, peaks: np.ndarray,
                   measured: np.ndarray) -> list[Series]:
    """The peak-memory series beside a time series: its runs that recorded one."""
    has = measured[part]
    if not has.any():
        return []
    values = peaks[part][has]
    return [replace(timed, group=f"{timed.group}, {MEMORY}", mode=MEMORY, reference=None,
                    positions=timed.positions[has], values=values, lows=values,
                    highs=values, metric=MEMORY)]


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
