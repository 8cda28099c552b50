"""The gate's findings as a text table, markdown (gate.md) and JSON (gate.json)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bench import atomic, runs, table
from bench.policy import POWER
from bench.runs import NORMALIZATION_MEANING, Benchmark
from bench.table import Column, short_name
from bench.units import format_bytes, format_change, format_time

from . import calm
from .compare import TIME, Row, Settings, undecided_metrics
from .decide import Outcome, within
from .sequential import Look, Result


def _time(bench: Benchmark | None, mode: str | None) -> str:
    """Median time, and the median ratio to the reference the gate compares
    (the benchmark's own where it compares raw times)."""
    if bench is None:
        return "-"
    if bench.reference is None:
        return format_time(bench.median)
    plain = calm.split(mode or "pair")[0]
    name = runs.reference_of(bench, plain) or bench.reference_name
    times = bench.reference if name == bench.reference_name else bench.alternatives[name]
    ratio = bench.median / float(np.median(times))
    shown = f"{ratio:,.0f}" if ratio >= 1000 else f"{ratio:.3g}"
    return f"{format_time(bench.median)} ({shown}x {name}{calm.label(mode or '')})"


# An MDE beyond this says only that the processes were too few to measure with
# (with 2 blocks it can reach 10^40 %): said so, not as a number.
MDE_SHOWN = 1.0


def mde_text(mde: float, digits: int = 1) -> str:
    return f"+{mde * 100:.{digits}f} %" if mde < MDE_SHOWN else f"over +{MDE_SHOWN * 100:g} %"


def verdict_text(row: Row, settings: Settings) -> str:
    text = row.outcome.value.upper() if row.outcome is Outcome.REGRESSED else row.outcome.value
    band = max(settings.detect, row.threshold or 0)
    if (row.look is not None and row.outcome is Outcome.NO_CHANGE
            and within(row.estimate, band)):
        text += f" (within ±{band * 100:g} %"
        if row.last_look_mde is not None and math.isfinite(row.last_look_mde):
            text += f"; catches {mde_text(row.last_look_mde)} by the last look"
        text += ")"
    if row.too_noisy:
        need = (f"needs ≈ {row.needs_blocks} processes a side" if row.needs_blocks
                else "no affordable number of processes would do")
        if row.estimate.mde >= MDE_SHOWN:
            text += (f" (too few processes to gate: {row.estimate.processes[0]} a side catch "
                     f"only slowdowns {mde_text(row.estimate.mde)}; {need})")
        else:
            text += (f" (too noisy to gate at ±{row.threshold * 100:g} % here: catches "
                     f"{mde_text(row.estimate.mde, 0)}, not +{settings.detect * 100:g} %; {need})")
    return text


def _change(row: Row) -> str:
    est = row.estimate
    if est is None:
        return row.note or "-"
    if est.measured:
        return f"{format_change(est.ratio)} [{format_change(est.low)}, {format_change(est.high)}]"
    return f"{format_change(est.ratio)} [unmeasured]"


def _processes(row: Row) -> str:
    est = row.estimate
    if est is None:
        return "-"
    shown = f"{est.processes[0]} {'blocks' if est.paired else 'vs ' + str(est.processes[1])}"
    return shown + (f", look {row.look}" if row.look is not None else "")


def _peaks(values: tuple[int, ...]) -> str:
    """A side's peaks: one value, or lowest–highest over its processes."""
    low, high = min(values), max(values)
    return format_bytes(low) if low == high else f"{format_bytes(low)}–{format_bytes(high)}"


def _memory_change(row: Row) -> str:
    change = row.memory
    if change is None:
        return row.note or "-"
    grown = change.growth
    return (f"{format_change(change.ratio)} ({'+' if grown >= 0 else '-'}"
            f"{format_bytes(abs(grown))})")


def _per_metric(time_cell, memory_cell):
    """A cell that time rows and memory rows (bench.gate.memory) fill each their way."""
    return lambda r: time_cell(r) if r.metric == TIME else memory_cell(r)


def columns(settings: Settings) -> list[Column[Row]]:
    memory_threshold = (f"±{settings.memory_tolerance * 100:g} % and "
                        f"±{format_bytes(settings.memory_floor)}")
    return [
        Column("benchmark", "left", lambda r: short_name(r.key)),
        Column("metric", "left", lambda r: r.metric),
        Column("base", "right", _per_metric(lambda r: _time(r.base, r.normalization),
                                            lambda r: _peaks(r.memory.base) if r.memory else "-")),
        Column("candidate", "right", _per_metric(
            lambda r: _time(r.candidate, r.normalization), lambda r: _peaks(r.memory.candidate) if r.memory else "-")),
        Column("change [interval]", "right", _per_metric(_change, _memory_change)),
        Column("threshold", "right", _per_metric(
            lambda r: f"±{r.threshold * 100:g} %" if r.threshold is not None else "-",
            lambda r: memory_threshold)),
        Column("catches (MDE)", "right",
               lambda r: mde_text(r.estimate.mde)
               if r.estimate is not None and r.estimate.mde is not None else "-"),
        Column("processes", "right", _per_metric(
            _processes, lambda r: "{} vs {}".format(*r.memory.processes) if r.memory else "-")),
        Column("verdict", "left", lambda r: verdict_text(r, settings)),
    ]


def summary(rows: list[Row], settings: Settings) -> str:
    counts = {o: sum(r.outcome is o for r in rows) for o in Outcome}
    parts = [f"{n} {o.value}" for o, n in counts.items() if n]
    noisy = sum(r.too_noisy for r in rows)
    order = list(NORMALIZATION_MEANING)
    modes = sorted({r.normalization for r in rows if r.normalization},
                   key=lambda m: (order.index(m) if m in order else len(order), m))
    meaning = "; ".join(calm.meaning(m) for m in modes) or "-"
    text = (f"{', '.join(parts) or 'no benchmarks'}"
            + (f"; {noisy} too noisy to catch +{settings.detect * 100:g} %" if noisy else "")
            + ".")
    if any(r.metric == TIME for r in rows):
        text += (f" Change: candidate over base of {meaning}, per process; over processes, "
                 f"their {settings.estimator.description}; intervals hold all true ratios "
                 f"together with {100 * (1 - settings.alpha):g} % confidence (Bonferroni"
                 + (", over benchmarks and looks" if any(r.look for r in rows) else "") + "). "
                 f"MDE: the slowdown caught with {POWER * 100:g} % probability at this noise"
                 + ("; for a benchmark decided at an earlier look, \"by the last look\": "
                    "the MDE at the last look's blocks and alpha, which it would have run on "
                    "towards had its change been as large" if any(r.last_look_mde is not None
                                                                  for r in rows) else "")
                 + ".")
    if any(r.metric != TIME for r in rows):
        text += (f" Memory: each call's peak allocation, one per process; a change counts "
                 f"when every candidate process's peak is beyond every base process's by "
                 f"more than {settings.memory_tolerance * 100:g} % and "
                 f"{format_bytes(settings.memory_floor)}.")
    faulty = [r for r in rows if r.dropped]
    if faulty:
        text += (f"\nClock faults: {sum(r.dropped for r in faulty)} round(s) dropped (a time "
                 f"<= 0 or not finite, with its paired half) in {len(faulty)} benchmark(s).")
    undecided = [r for r in rows if r.outcome is Outcome.UNDECIDED]
    if undecided:
        text += f"\n{undecided[0].note}."
    open_metrics = undecided_metrics(rows, settings)
    if open_metrics and len(open_metrics) < len(settings.metrics):
        decided = [m for m in settings.metrics if m not in open_metrics]
        text += (f"\nDecided: {', '.join(decided)}; undecided: {', '.join(open_metrics)} "
                 "(the exit status is 2 unless a regression was found).")
    return text


def text_table(rows: list[Row], settings: Settings) -> str:
    return "\n".join([*table.text(columns(settings), rows), "", summary(rows, settings)])


def markdown(rows: list[Row], settings: Settings, header: str = "") -> str:
    lines = ["## Benchmark regression gate", ""]
    if header:
        lines += [header, ""]
    lines += table.markdown(columns(settings), rows)
    return "\n".join(lines + ["", summary(rows, settings), ""])


def looks_text(looks: tuple[Look, ...], result: Result) -> str:
    """What the sequential rule did, in a sentence."""
    if len(looks) == 1:
        return f"One look at {looks[0].blocks} blocks."
    stopped = result.stopped
    return (f"Looks at {', '.join(str(look.blocks) for look in looks)} blocks (alpha spent in "
            f"proportion to the blocks; bench/gate/sequential.py): "
            + (f"every benchmark decided by look {stopped.number} ({stopped.blocks} blocks)."
               if stopped is not looks[-1] else
               f"the last look ({stopped.blocks} blocks) was reached."))


def looks_json(looks: tuple[Look, ...], result: Result, blocks: int) -> dict:
    """gate.json's record of the looks: the schedule, where the run stopped, its blocks."""
    return {"looks": [{"look": look.number, "blocks": look.blocks, "alpha": look.alpha}
                      for look in looks],
            "stopped_at_look": result.stopped.number, "blocks": blocks}


def as_json(rows: list[Row], settings: Settings, sequential: dict | None = None) -> dict:
    def entry(row: Row) -> dict:
        est = row.estimate
        if row.metric != TIME:
            change = row.memory
            return {
                "benchmark": row.key,
                "metric": row.metric,
                "verdict": row.outcome.value,
                "ratio": change.ratio if change else None,
                "base_bytes": list(change.base) if change else None,
                "candidate_bytes": list(change.candidate) if change else None,
                "tolerance": settings.memory_tolerance,
                "floor_bytes": settings.memory_floor,
                "processes": list(change.processes) if change else None,
                "note": row.note,
            }
        return {
            "benchmark": row.key,
            "metric": TIME,
            "verdict": row.outcome.value,
            "ratio": est.ratio if est else None,
            "interval": [est.low, est.high] if est and est.measured else None,
            "threshold": row.threshold,
            "mde": est.mde if est and est.mde is not None and math.isfinite(est.mde) else None,
            "mde_last_look": (row.last_look_mde if row.last_look_mde is not None
                              and math.isfinite(row.last_look_mde) else None),
            "too_noisy": row.too_noisy,
            "needs_processes": row.needs_blocks if row.too_noisy else None,
            "processes": list(est.processes) if est else None,
            "paired": est.paired if est else None,
            "look": row.look,
            "normalization": row.normalization,
            "note": row.note,
            "dropped_rounds": row.dropped,
        }

    document = {"settings": {"threshold": settings.threshold, "alpha": settings.alpha,
                             "detect": settings.detect, "power": POWER,
                             "normalize": settings.normalize, "statistic": settings.statistic,
                             "metrics": list(settings.metrics),
                             "memory_tolerance": settings.memory_tolerance,
                             "memory_floor_bytes": settings.memory_floor}}
    if sequential is not None:
        document["sequential"] = sequential
    return {**document, "benchmarks": [entry(r) for r in rows]}


def write(rows: list[Row], settings: Settings, markdown_path: Path | None = None,
          json_path: Path | None = None, header: str = "", sequential: dict | None = None
          ) -> None:
    """gate.md and gate.json; `sequential` (looks_json) records the looks of a bench ab run."""
    if markdown_path is not None:
        atomic.write_text(markdown_path, markdown(rows, settings, header))
    if json_path is not None:
        atomic.write_text(json_path, json.dumps(as_json(rows, settings, sequential), indent=1))
