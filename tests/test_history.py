"""`python -m bench history` (bench.history) on series of saved runs.

Runs are built like the suite's gate-ready runs by tests/synthetic_runs.py
(pytest-benchmark JSON with raw samples and the paired reference, lognormal
samples with fixed seeds); every process is shifted as a whole by
PROCESS_SIGMA, the noise between runs. A change is injected by
rescaling a benchmark's samples from a chosen run on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import synthetic_runs
from bench import runs
from bench.history import changes, output
from bench.history.__main__ import main as history_main
from bench.history.__main__ import run_paths
from bench.history.analyze import analyze
from bench.history.interval import median_interval
from markdown_tables import by_first_column, parse
from synthetic_runs import MODULE

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6, "builtin-rows5": 6e-6}
EINSUM = MODULE + "test_matmul[einsum-rows500]"
PROCESS_SIGMA = 0.01
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def make_run(benchmarks: dict[str, float], *, seed: int, factors: dict[str, float] | None = None,
             node: str = "vm", cpu: str = "AMD EPYC", commit_time: datetime | None = START,
             ran: datetime = START) -> dict:
    """A saved run of one commit (its id derived from the seed)."""
    return synthetic_runs.make_run(
        benchmarks, seed=seed, factors=factors, process_sigma=PROCESS_SIGMA, rounds=40,
        node=node, cpu=cpu, commit=hashlib.sha1(f"{seed}".encode()).hexdigest(),
        commit_time=commit_time and commit_time.isoformat(), ran=ran.isoformat())


def file_name(number: int, document: dict) -> str:
    """As --benchmark-autosave names a run: NNNN_<commit>_<time>."""
    stamp = datetime.fromisoformat(document["datetime"]).strftime("%Y%m%d_%H%M%S")
    return f"{number:04d}_{document['commit_info']['id']}_{stamp}.json"


def series_documents(count: int, factor=lambda index, name: 1.0, *, seed: int = 0,
                     node: str = "vm", cpu: str = "AMD EPYC") -> list[dict]:
    """count runs, one commit an hour; factor(index, name) rescales a benchmark's samples."""
    return [make_run(SUITE, seed=seed + index, node=node, cpu=cpu,
                     factors={name: factor(index, name) for name in SUITE},
                     commit_time=START + timedelta(hours=index),
                     ran=START + timedelta(hours=index, minutes=5))
            for index in range(count)]


def parsed(documents: list[dict]) -> list[runs.Run]:
    return [runs.parse(d, file_name(n, d)) for n, d in enumerate(documents, start=1)]


def found(documents: list[dict]) -> list[tuple[str, str]]:
    """(benchmark, first run of the new level) per change, newest first."""
    history = analyze(parsed(documents))
    return [(c.series.key, c.point.run.id[:4]) for c in history.newest_first()]


def step(at: int, ratio: float, name: str = "einsum-rows500"):
    return lambda index, bench: ratio if bench == name and index >= at else 1.0


# ---------------------------------------------------------------- what is a change

def test_cli_reports_exactly_the_injected_step_and_writes_three_outputs(tmp_path, capsys):
    """14 runs, einsum 10 % slower from the 9th on: that change, nothing else."""
    folder = tmp_path / "runs"
    folder.mkdir()
    for number, document in enumerate(series_documents(14, step(8, 1.10)), start=1):
        (folder / file_name(number, document)).write_text(json.dumps(document))
    out = tmp_path / "report"
    assert history_main([str(folder), "--out", str(out), "--png"]) == 0
    [change] = json.loads((out / "history.json").read_text())
    ninth = sorted(folder.glob("0009_*.json"))[0]
    assert change["benchmark"] == EINSUM and change["run"] == ninth.stem
    assert change["commit"] == runs.load(ninth).commit.id
    low, high = change["interval"]
    assert low < change["ratio"] < high and 1.05 < low and high < 1.15
    assert change["ratio"] == pytest.approx(1.10, abs=0.02)
    md = (out / "history.md").read_text()
    assert md.index("## Changes, newest first") < md.index("test_matmul[einsum-rows500]")
    assert "![matmul](matmul.png)" in md and "never mixed" in md
    assert (out / "matmul.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "1 change(s)" in printed and f"from run {ninth.stem}" in printed


def test_an_isolated_outlier_is_not_a_change():
    def outliers(index, name):
        return {(7, "einsum-rows500"): 1.30, (4, "broadcast-rows5"): 0.75,
                (13, "builtin-rows5"): 1.5}.get((index, name), 1.0)
    assert found(series_documents(14, outliers)) == []


def test_a_slow_drift_is_not_a_step():
    """0.5 % a run compounds to 12 % over 24 runs, but never steps."""
    assert found(series_documents(24, lambda index, name: 1.005 ** index)) == []


def test_two_steps_are_both_found():
    def two(index, name):
        if name == "einsum-rows500":
            return 1.10 if index >= 6 else 1.0
        return 0.90 if name == "broadcast-rows5" and index >= 12 else 1.0
    assert found(series_documents(18, two)) == [(MODULE + "test_matmul[broadcast-rows5]", "0013"),
                                                 (EINSUM, "0007")]


def test_a_step_up_and_back_down_is_two_changes():
    def back(index, name):
        return 1.10 if name == "einsum-rows500" and 6 <= index < 11 else 1.0

    history = analyze(parsed(series_documents(16, back)))
    later, earlier = history.newest_first()
    assert (earlier.point.run.id[:4], later.point.run.id[:4]) == ("0007", "0012")
    assert earlier.estimate.ratio > 1.05 and later.estimate.ratio < 0.95


def test_too_few_runs_are_not_searched():
    assert found(series_documents(2 * changes.MIN_RUNS - 1, step(2, 1.5))) == []


def test_rule_directly_on_values():
    """The rule without runs: a 3-run step at the end counts; a 2-run blip does not."""
    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.01, 12)
    assert [b for b, _ in changes.boundaries(values + np.log([1] * 9 + [1.1] * 3))] == [9]
    assert changes.boundaries(values + np.log([1] * 10 + [1.2] * 2)) == []


# ---------------------------------------------------------------- series

def test_runs_are_ordered_by_commit_time_then_run_time():
    """File numbers do not decide: commit time does, the run's time breaking ties or
    standing in for a missing commit time."""
    documents = series_documents(8, step(4, 1.2))
    documents[0], documents[5] = documents[5], documents[0]   # saved out of order
    documents[2]["commit_info"]["time"] = None               # falls back to its run time
    history = analyze(parsed(documents))
    [machine] = history.machines
    stamps = [r.datetime for r in machine.machine.runs]
    assert stamps == sorted(stamps)
    [change] = history.newest_first()
    assert change.point.run.datetime == (START + timedelta(hours=4, minutes=5)).isoformat()


def test_mixed_machines_are_separate_series(tmp_path):
    """Two kinds of machine in one folder, the second 30 % slower, runs interleaved:
    mixed, every other run would look like a change; apart, each has its own series,
    and a step on one machine is found at its run. Hosts of one kind (hosted CI
    runners are fresh ones each time) share a series."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    vm = series_documents(12, step(6, 1.12))
    for index, document in enumerate(vm):
        document["machine_info"]["node"] = f"runner-{index}"
    ci = series_documents(12, lambda index, name: 1.3, seed=100, cpu="Intel Xeon")
    for number, document in enumerate([d for pair in zip(vm, ci) for d in pair], start=1):
        (folder / file_name(number, document)).write_text(json.dumps(document))
    history = analyze([runs.load(p) for p in run_paths([str(folder)], ".benchmarks")])
    assert [(m.machine.fields["cpu"], len(m.machine.runs), len(m.series))
            for m in history.machines] == [("AMD EPYC x2", 12, 3), ("Intel Xeon x2", 12, 3)]
    [change] = history.newest_first()
    assert (change.series.key, change.series.machine.fields["cpu"]) == (EINSUM, "AMD EPYC x2")
    assert change.point.run.commit.id == vm[6]["commit_info"]["id"]
    md = output.markdown(history, {(m.machine.number, "matmul"): f"m{m.machine.number}.png"
                                   for m in history.machines})
    assert "never mixed" in md
    machines = by_first_column(md.split("never mixed", 1)[1])
    assert (machines["2"]["runs"], machines["2"]["cpu"]) == ("12", "Intel Xeon x2")
    [row] = parse(md.split("## Changes, newest first", 1)[1].split("\n\n", 2)[2])
    assert (row["benchmark"], row["machine"], row["runs before / after"]) == (
        "test_matmul[einsum-rows500]", "1", "6 / 6")
    assert md.count("### matmul (machine ") == 2


def test_points_are_medians_of_paired_ratios_with_an_exact_interval():
    saved = parsed(series_documents(3))
    [machine] = analyze(saved).machines
    einsum = next(s for s in machine.series if s.key == EINSUM)
    bench = saved[0].benchmarks[EINSUM]
    assert einsum.mode == "pair"
    point = einsum.points[0]
    assert point.value == pytest.approx(float(np.median(bench.samples / bench.reference)))
    assert point.low < point.value < point.high


def test_median_interval_is_the_binomial_order_statistic():
    samples = np.arange(1.0, 101.0)
    median, low, high = median_interval(samples[::-1])
    # n = 100 at 95 %: the 40th and 61st smallest (P(Binomial(100, 1/2) <= 39) < 2.5 %)
    assert (median, low, high) == (50.5, 40.0, 61.0)
    assert median_interval(np.array([3.0, 1.0, 2.0])) == (2.0, 1.0, 3.0)  # too few: the range


# ---------------------------------------------------------------- no runs

def test_no_saved_runs_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert history_main([]) == 2
    err = capsys.readouterr().err
    assert "no saved runs for this machine under .benchmarks/" in err
    assert "--benchmark-autosave" in err
    (tmp_path / "empty").mkdir()
    assert history_main(["empty"]) == 2
    assert "a folder with no saved runs" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_runs_without_samples_are_a_clear_error(tmp_path, capsys):
    document = series_documents(1)[0]
    for entry in document["benchmarks"]:
        del entry["stats"]["data"]
    path = tmp_path / file_name(1, document)
    path.write_text(json.dumps(document))
    assert history_main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert "--benchmark-save-data" in capsys.readouterr().err


def test_help_explains_the_method(capsys):
    with pytest.raises(SystemExit) as exit_:
        history_main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text and "never mixed" in text and "at least 3" in text


def test_history_names_its_own_test_and_imports_nothing_from_the_gate():
    """Changing the gate's statistic or wording cannot change the history."""
    import subprocess
    import sys
    from pathlib import Path

    check = ("import sys, bench.history.__main__, bench.history.output; "
             "print(sorted(m for m in sys.modules if m.startswith('bench.gate')))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
    old, new = np.log([1.0, 1.01, 0.99, 1.0, 1.02]), np.log([1.1, 1.11, 1.09, 1.1, 1.12])
    shift = changes.level_shift(old, new)
    trimmed = [float(np.mean(np.sort(v)[1:-1])) for v in (old, new)]  # 20 % of 5 runs: one a side
    assert shift.ratio == pytest.approx(np.exp(trimmed[1] - trimmed[0]))
    assert shift.low > 1 and shift.significant
    assert (shift.runs_before, shift.runs_after) == (5, 5)


@pytest.mark.parametrize("sizes", [(3, 3), (5, 7), (12, 9)])
def test_the_level_shift_is_yuens_test_as_scipy_computes_it(sizes):
    from scipy import stats

    rng = np.random.default_rng(sum(sizes))
    old, new = rng.normal(0, 0.02, sizes[0]), rng.normal(0.05, 0.03, sizes[1])
    shift = changes.level_shift(old, new)
    yuen = stats.ttest_ind(new, old, equal_var=False, trim=changes.TRIM)
    low, high = yuen.confidence_interval(1 - changes.ALPHA)
    assert (math.log(shift.low), math.log(shift.high)) == pytest.approx((low, high), rel=1e-9)
    assert shift.t == pytest.approx(float(yuen.statistic), rel=1e-9)
def with_peaks(documents: list[dict], peak) -> list[dict]:
    """The runs with each benchmark's peak memory set to peak(index, name)."""
    for index, document in enumerate(documents):
        for entry in document["benchmarks"]:
            name = entry["name"].partition("[")[2].rstrip("]")
            entry["extra_info"][runs.MEMORY] = dataclasses.asdict(runs.Memory(peak(index, name), 10, 200))
    return documents


def test_a_step_in_peak_memory_is_a_change_and_a_constant_one_is_not():
    def grown(index, name):
        return 26_000 + (1_568_000 if name == "einsum-rows500" and index >= 6 else 0)

    history = analyze(parsed(with_peaks(series_documents(12), grown)))
    found = history.newest_first()
    assert [(c.series.key, c.series.metric, c.index) for c in found] == [
        (EINSUM, "peak memory", 6)]
    assert found[0].estimate.ratio == pytest.approx(1_594_000 / 26_000)
    assert "einsum-rows500] (peak memory)" in output.text(history)
    constant = analyze(parsed(with_peaks(series_documents(12), lambda index, name: 26_000)))
    assert constant.newest_first() == []
    assert sum(s.metric == "peak memory" for m in constant.machines for s in m.series) == 3


def test_peak_memory_is_kept_and_stores_kept_before_it_still_read(tmp_path):
    from bench.history import store
    from bench.history.analyze import analyze_kept
    from bench.history.kept import summarize

    saved = parsed(with_peaks(series_documents(6), lambda index, name: 26_000))
    for run in saved[:3]:  # kept by a version without the column
        table, _ = summarize(run)
        store.write(table.drop_columns(["peak_bytes"]), tmp_path / "old", run.id)
    history = analyze_kept([str(tmp_path / "old" / "*.parquet")])
    assert {s.metric for m in history.machines for s in m.series} == {"time"}
    for run in saved[3:]:
        store.write(summarize(run)[0], tmp_path / "new", run.id)
    both = analyze_kept([str(tmp_path / "old" / "*.parquet"), str(tmp_path / "new" / "*.parquet")])
    memory = [s for m in both.machines for s in m.series if s.metric == "peak memory"]
    assert len(memory) == 3 and all(list(s.positions) == [3, 4, 5] for s in memory)
    assert all(set(s.values) == {26_000} for s in memory)
