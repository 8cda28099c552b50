"""Kept rows to their history: series per machine and the changes in each."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from bench.runs import Run, RunError

from . import store
from .changes import Change, detect
from .kept import summarize
from .series import Machine, RunInfo, Series, build, when


@dataclass(frozen=True)
class MachineHistory:
    machine: Machine
    series: list[Series]
    changes: list[list[Change]]   # parallel to series


@dataclass(frozen=True)
class History:
    machines: list[MachineHistory]
    without_samples: int          # benchmarks of saved runs without raw samples: left out

    @property
    def runs(self) -> list[RunInfo]:
        return [run for m in self.machines for run in m.machine.runs]

    def newest_first(self) -> list[Change]:
        """Every change, the latest first run of a new level first."""
        found = [c for m in self.machines for per_series in m.changes for c in per_series]
        return sorted(found, key=lambda c: (when(c.point.run), c.point.position),
                      reverse=True)


def analyze(runs: list[Run]) -> History:
    """The history of saved runs (summarized into kept rows first)."""
    if not runs:
        raise RunError("no saved runs to read")
    tables, skipped = zip(*(summarize(run) for run in runs))
    return analyze_kept([], pa.concat_tables(tables), sum(skipped))


def analyze_kept(locations: list[str], saved: pa.Table | None = None,
                 without_samples: int = 0) -> History:
    """The history of kept runs (store locations) and saved runs' kept rows, together."""
    run_table, rows = store.read(locations, saved)
    if rows.num_rows == 0:
        raise RunError("none of the runs kept raw samples with their paired reference; save "
                       "runs with --benchmark-save-data (python -m bench run does)")
    return History([MachineHistory(machine, found, [detect(s) for s in found])
                    for machine, found in build(run_table, rows)], without_samples)
