"""The gate's findings as a text table, markdown (gate.md) and JSON (gate.json)."""
from __future__ import annotations

import json
from pathlib import Path

from bench import atomic
from bench.runs import NORMALIZATION_MEANING, Benchmark
from bench.units import format_change, format_time

from .compare import Row, Settings
from .decide import POWER, Outcome

COLUMNS = ("benchmark", "base", "candidate", "change [interval]", "threshold",
           "catches (MDE)", "processes", "verdict")
def _time(bench: Benchmark | None) -> str:
    """Median time, and the median ratio to the reference the gate compares."""
    if bench is None:
        return "-"
    if bench.reference is None:
        return format_time(bench.median)
    ratio = bench.span
    shown = f"{ratio:,.0f}" if ratio >= 1000 else f"{ratio:.3g}"
    return f"{format_time(bench.median)} ({shown}x {bench.reference_name})"


# An MDE beyond this says only that the processes were too few to measure with
# (with 2 blocks it can reach 10^40 %): said so, not as a number.
MDE_SHOWN = 1.0


def mde_text(mde: float, digits: int = 1) -> str:
    return f"+{mde * 100:.{digits}f} %" if mde < MDE_SHOWN else f"over +{MDE_SHOWN * 100:g} %"


def verdict_text(row: Row, settings: Settings) -> str:
    text = row.outcome.value.upper() if row.outcome is Outcome.REGRESSED else row.outcome.value
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


def cells(row: Row, settings: Settings) -> tuple[str, ...]:
    est = row.estimate
    if est is None:
        change = row.note or "-"
    elif est.measured:
        change = (f"{format_change(est.ratio)} [{format_change(est.low)}, "
                  f"{format_change(est.high)}]")
    else:
        change = f"{format_change(est.ratio)} [unmeasured]"
    threshold = f"±{row.threshold * 100:g} %" if row.threshold is not None else "-"
    mde = mde_text(est.mde) if est is not None and est.mde is not None else "-"
    processes = ("-" if est is None else
                 f"{est.processes[0]} {'blocks' if est.paired else 'vs ' + str(est.processes[1])}")
    return (row.key.rpartition("::")[2] or row.key, _time(row.base), _time(row.candidate),
            change, threshold, mde, processes, verdict_text(row, settings))


def summary(rows: list[Row], settings: Settings) -> str:
    counts = {o: sum(r.outcome is o for r in rows) for o in Outcome}
    parts = [f"{n} {o.value}" for o, n in counts.items() if n]
    noisy = sum(r.too_noisy for r in rows)
    modes = sorted({r.normalization for r in rows if r.normalization},
                   key=list(NORMALIZATION_MEANING).index)
    meaning = "; ".join(NORMALIZATION_MEANING[m] for m in modes) or "-"
    text = (f"{', '.join(parts) or 'no benchmarks'}"
            + (f"; {noisy} too noisy to catch +{settings.detect * 100:g} %" if noisy else "")
            + f". Change: candidate over base of {meaning}, per process, over processes; "
            f"intervals hold all true ratios together with {100 * (1 - settings.alpha):g} % "
            f"confidence (Bonferroni). MDE: the slowdown caught with {POWER * 100:g} % "
            "probability at this noise.")
    faulty = [r for r in rows if r.dropped]
    if faulty:
        text += (f"\nClock faults: {sum(r.dropped for r in faulty)} round(s) dropped (a time "
                 f"<= 0 or not finite, with its paired half) in {len(faulty)} benchmark(s).")
    undecided = [r for r in rows if r.outcome is Outcome.UNDECIDED]
    if undecided:
        text += f"\n{undecided[0].note}."
    return text


def text_table(rows: list[Row], settings: Settings) -> str:
    table = [COLUMNS] + [cells(r, settings) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", summary(rows, settings)])


def markdown(rows: list[Row], settings: Settings, header: str = "") -> str:
    lines = ["## Benchmark regression gate", ""]
    if header:
        lines += [header, ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join(" --- " for _ in COLUMNS) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r, settings)) + " |"
              for r in rows]
    return "\n".join(lines + ["", summary(rows, settings), ""])


def as_json(rows: list[Row], settings: Settings) -> dict:
    def entry(row: Row) -> dict:
        est = row.estimate
        return {
            "benchmark": row.key,
            "verdict": row.outcome.value,
            "ratio": est.ratio if est else None,
            "interval": [est.low, est.high] if est and est.measured else None,
            "threshold": row.threshold,
            "mde": est.mde if est else None,
            "too_noisy": row.too_noisy,
            "needs_processes": row.needs_blocks if row.too_noisy else None,
            "processes": list(est.processes) if est else None,
            "paired": est.paired if est else None,
            "normalization": row.normalization,
            "note": row.note,
            "dropped_rounds": row.dropped,
        }

    return {"settings": {"threshold": settings.threshold, "alpha": settings.alpha,
                         "detect": settings.detect, "power": POWER,
                         "normalize": settings.normalize},
            "benchmarks": [entry(r) for r in rows]}


def write(rows: list[Row], settings: Settings, markdown_path: Path | None = None,
          json_path: Path | None = None, header: str = "") -> None:
    if markdown_path is not None:
        atomic.write_text(markdown_path, markdown(rows, settings, header))
    if json_path is not None:
        atomic.write_text(json_path, json.dumps(as_json(rows, settings), indent=1))
