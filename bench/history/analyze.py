"""Saved runs to their history: series per machine and the changes in each."""
from __future__ import annotations

from dataclasses import dataclass

from bench.runs import Run, RunError

from .changes import Change, detect
from .series import Machine, Series, build, machines, when


@dataclass(frozen=True)
class MachineHistory:
    machine: Machine
    series: list[Series]
    changes: list[list[Change]]   # parallel to series
    without_samples: int          # benchmarks of its runs saved without raw samples


@dataclass(frozen=True)
class History:
    machines: list[MachineHistory]

    @property
    def runs(self) -> list[Run]:
        return [run for m in self.machines for run in m.machine.runs]

    def newest_first(self) -> list[Change]:
        """Every change, the latest first run of a new level first."""
        found = [c for m in self.machines for per_series in m.changes for c in per_series]
        return sorted(found, key=lambda c: (when(c.point.run), c.point.position),
                      reverse=True)


def analyze(runs: list[Run]) -> History:
    if not runs:
        raise RunError("no saved runs to read")
    histories = []
    for machine in machines(runs):
        found, skipped = build(machine)
        histories.append(MachineHistory(machine, found, [detect(s) for s in found], skipped))
    if not any(m.series for m in histories):
        raise RunError("none of the runs kept raw samples with their paired reference; save "
                       "runs with --benchmark-save-data (python -m bench run does)")
    return History(histories)
