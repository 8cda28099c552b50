"""The history as history.md, history.json, history.html, a PNG per group, and a short text."""
from __future__ import annotations

import json
import re
from pathlib import Path

from bench import table
from bench.runs import KIND_FIELDS, NORMALIZATION_MEANING
from bench.table import Column, short_name
from bench.units import format_change

from . import changes as rule
from .analyze import History, MachineHistory
from .changes import Change
from .interval import CONFIDENCE
from .page import write_page
from .plot import PLOTTED_RUNS, plot_group
from .series import MEMORY, TIME, commit_label, when


def _metric(change: Change) -> str:
    """What a change is in, where it is not time."""
    return "" if change.series.metric == TIME else f" ({change.series.metric})"

def _change_text(change: Change) -> str:
    e = change.estimate
    return f"{format_change(e.ratio)} [{format_change(e.low)}, {format_change(e.high)}]"


def _date(change: Change) -> str:
    run = change.point.run
    return (run.commit.time or run.datetime or "-")[:19].replace("T", " ")


def plot_name(group: str, machine: MachineHistory, several: bool) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", group).strip("-").lower() or "group"
    return f"{slug}.machine-{machine.machine.number}.png" if several else f"{slug}.png"


def groups(machine: MachineHistory) -> dict[str, list[int]]:
    """Indexes into machine.series by benchmark group, in first-seen order."""
    found: dict[str, list[int]] = {}
    for index, line in enumerate(machine.series):
        found.setdefault(line.group, []).append(index)
    return found


def as_json(history: History) -> list[dict]:
    return [{
        "benchmark": c.series.key,
        "metric": c.series.metric,
        "run": c.point.run.id,
        "commit": c.point.run.commit.id,
        "ratio": c.estimate.ratio,
        "interval": [c.estimate.low, c.estimate.high],
        "confidence": 1 - rule.ALPHA,
        "date": when(c.point.run).isoformat(),
        "group": c.series.group,
        "kernel": c.series.label,
        "machine": c.series.machine.number,
        "window_step": c.step,
        "runs_before_and_after": [c.estimate.runs_before, c.estimate.runs_after],
    } for c in history.newest_first()]


# The "machine" field is the architecture (platform.machine()); "machine" heads
# the column of machine numbers.
FIELD_HEADERS = {"machine": "architecture"}


def _machines_text(history: History) -> list[str]:
    lines = ["Runs from different machines or environments (different "
             f"{', '.join(KIND_FIELDS)}) are never mixed: each machine gets series and "
             "plots of its own."]
    if len(history.machines) == 1:
        fields = history.machines[0].machine.fields
        return lines + ["All runs here come from one: "
                        + "; ".join(f"{k} {v}" for k, v in fields.items()) + "."]
    columns = [Column("machine", "right", lambda m: str(m.machine.number)),
               Column("runs", "right", lambda m: str(len(m.machine.runs))),
               *(Column(FIELD_HEADERS.get(f, f), "left", lambda m, f=f: m.machine.fields[f])
                 for f in KIND_FIELDS)]
    return [*lines, "", *table.markdown(columns, history.machines)]


def change_columns(several: bool) -> list[Column[Change]]:
    """The changes table; the machine column only when the runs come from several."""
    return [
        Column("benchmark", "left", lambda c: short_name(c.series.key) + _metric(c)),
        *([Column("machine", "right", lambda c: str(c.series.machine.number))] if several else []),
        Column("first run of the new level", "left", lambda c: c.point.run.id),
        Column("commit", "left", lambda c: commit_label(c.point.run)),
        Column("date", "left", _date),
        Column(f"new / old level [{(1 - rule.ALPHA) * 100:g} % interval]", "right", _change_text),
        Column("runs before / after", "right",
               lambda c: f"{c.estimate.runs_before} / {c.estimate.runs_after}"),
    ]


def markdown(history: History, plots: dict[tuple[int, str], str]) -> str:
    runs = sorted(history.runs, key=when)
    modes = sorted({s.mode for m in history.machines for s in m.series if s.metric == TIME})
    several = len(history.machines) > 1
    lines = [
        "# Benchmark history", "",
        f"{len(runs)} saved runs ({runs[0].id} to {runs[-1].id}), ordered by commit time "
        "(a run's own time where it records no commit; several runs of one commit by when "
        "they ran).", "",
        *_machines_text(history), "",
        "Each point is one run's median of "
        + "; ".join(NORMALIZATION_MEANING[m] for m in modes)
        + f", with its exact {CONFIDENCE * 100:g} % interval (order statistics: the noise "
        "within that run only, not between runs). Groups named \"..., " + MEMORY + "\" follow "
        "the peak bytes one call allocated in each run (exact: no interval).", "",
        "## Changes, newest first", "",
        f"A change is a level that lasts at least {rule.MIN_RUNS} runs: the median of the "
        f"{rule.MIN_RUNS} runs after it differs from that of the {rule.MIN_RUNS} before by "
        f"at least {rule.MIN_CHANGE * 100:g} %, two levels fit the adjacent segments better "
        "than a straight line (a slow drift is not a step), and Yuen's two-sample "
        f"(Welch on {rule.TRIM * 100:g} % trimmed means) {(1 - rule.ALPHA) * 100:g} % "
        "interval of new level / old level "
        "excludes no change. An isolated odd run cannot make a level. "
        "Proposed by ruptures' PELT (L1 cost); the method is in bench/history/changes.py.",
        "",
    ]
    found = history.newest_first()
    if found:
        lines += table.markdown(change_columns(several), found)
    else:
        lines.append("No changes found.")
    short = [s for m in history.machines for s in m.series
             if len(s.values) < 2 * rule.MIN_RUNS]
    if short:
        lines += ["", f"{len(short)} series hold fewer than {2 * rule.MIN_RUNS} runs: plotted, "
                  "not searched for changes."]
    skipped = history.without_samples
    if skipped:
        lines += ["", f"{skipped} benchmark results were saved without raw samples "
                  "(--benchmark-save-data) or a paired reference: left out."]
    if not plots:
        lines += ["", "## Trends", "", "A chart per group, every run: history.html "
                  "(self-contained; open it in a browser). PNGs: --png."]
        return "\n".join(lines)
    lines += ["", "## Trends", "",
              f"The newest {PLOTTED_RUNS} runs of each machine (history.html shows every run). "
              "Each line relative to its first level (the median of its runs before its "
              "first change); shaded: each run's interval; circles and dotted lines: "
              "the first run of a new level.", ""]
    for m in history.machines:
        for group in groups(m):
            name = plots[m.machine.number, group]
            title = f"{group} ({m.machine.label})" if several else group
            lines += [f"### {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


def text(history: History) -> str:
    """What the command prints: a line per change, newest first."""
    found = history.newest_first()
    series_count = sum(len(m.series) for m in history.machines)
    lines = [f"{len(found) or 'no'} change(s) in {series_count} series over "
             f"{len(history.runs)} runs ({len(history.machines)} machine(s))"
             + (", newest first:" if found else ".")]
    for c in found:
        where = f" on machine {c.series.machine.number}" if len(history.machines) > 1 else ""
        lines.append(f"  {short_name(c.series.key)}{_metric(c)}{where}: from run {c.point.run.id} "
                     f"(commit {commit_label(c.point.run)}), new / old level "
                     f"{_change_text(c)}")
    return "\n".join(lines)


def write(history: History, out: Path, png: bool = False) -> list[Path]:
    """history.md, history.json, history.html and (png) a PNG per group under out;
    the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    several = len(history.machines) > 1
    plots: dict[tuple[int, str], str] = {}
    written = []
    for m in history.machines if png else []:
        for group, indexes in groups(m).items():
            name = plot_name(group, m, several)
            plots[m.machine.number, group] = name
            title = f"{group} ({m.machine.label})" if several else group
            written.append(plot_group(title, m.machine, [m.series[i] for i in indexes],
                                      {n: m.changes[i] for n, i in enumerate(indexes)},
                                      out / name))
    md, js = out / "history.md", out / "history.json"
    md.write_text(markdown(history, plots), encoding="utf-8")
    js.write_text(json.dumps(as_json(history), indent=2) + "\n", encoding="utf-8")
    return [md, js, write_page(history, out / "history.html"), *written]
