"""The regression gate (bench.gate) on synthetic saved runs.

Runs are built like the suite's gate-ready runs (pytest-benchmark JSON with
raw samples and the paired reference), from lognormal samples with fixed
seeds: rounds vary within a process, and every process is shifted as a whole
(PROCESS_SIGMA), the noise between processes that the gate must measure.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench import runs
from bench.gate import calm, decide
from bench.gate import compare as gate
from bench.gate.__main__ import main as gate_main
from bench.gate.output import summary as gate_summary
from bench.gate.output import text_table
from bench.gate.statistics import STATISTICS, Summary
from bench.policy import POWER, THRESHOLD
from bench.table import short_name
from markdown_tables import by_first_column
from synthetic_runs import MODULE, make_run

ROOT = Path(__file__).resolve().parent.parent
SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6, "builtin-rows5": 6e-6}


def write(path: Path, document: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def sides(tmp_path: Path, blocks: int, *, seed: int = 0, base_options: dict | None = None,
          **candidate_options) -> tuple[Path, Path]:
    """Folders base/ and candidate/ with one run per block, as `python -m bench ab` writes."""
    for index in range(blocks):
        name = f"block-{index + 1:03d}.json"
        write(tmp_path / "base" / name,
              make_run(SUITE, seed=seed + 2 * index, **(base_options or {})))
        write(tmp_path / "candidate" / name,
              make_run(SUITE, seed=seed + 2 * index + 1, **candidate_options))
    return tmp_path / "base", tmp_path / "candidate"


def load(folder: Path) -> list[runs.Run]:
    return [runs.load(p) for p in sorted(folder.glob("*.json"))]


def verdicts(base: Path, candidate: Path, **settings) -> dict[str, str]:
    rows = gate.compare(load(base), load(candidate), gate.Settings(**settings))
    return {short_name(r.key): r.outcome.value for r in rows}


def render_summary(rows) -> str:
    return gate_summary(rows, gate.Settings())


# ---------------------------------------------------------------- verdicts

def test_a_regression_is_found_across_blocks(tmp_path):
    base, cand = sides(tmp_path, 8, factors={"einsum-rows500": 1.15})
    found = verdicts(base, cand)
    assert found["test_matmul[einsum-rows500]"] == "regressed"
    assert found["test_matmul[broadcast-rows5]"] == "no change"
    assert gate.exit_code(gate.compare(load(base), load(cand))) == 1


def test_unchanged_code_is_no_change(tmp_path):
    base, cand = sides(tmp_path, 8)
    assert set(verdicts(base, cand).values()) == {"no change"}


def test_an_improvement_is_found(tmp_path):
    base, cand = sides(tmp_path, 8, factors={"broadcast-rows5": 0.8})
    assert verdicts(base, cand)["test_matmul[broadcast-rows5]"] == "improved"


def test_one_process_per_side_decides_nothing(tmp_path):
    """The spread between processes is measured, never assumed: with one run a
    side there is none, so no verdict, even on a large change."""
    base, cand = sides(tmp_path, 1, factors={"einsum-rows500": 1.5})
    rows = gate.compare(load(base), load(cand))
    assert {r.outcome for r in rows} == {decide.Outcome.UNDECIDED}
    assert gate.exit_code(rows) == 2
    assert "one process per side" in rows[0].note


def test_noise_between_processes_widens_the_interval_and_is_reported(tmp_path):
    quiet_base, quiet_cand = sides(tmp_path / "quiet", 16, factors={"einsum-rows500": 1.15})
    noisy_base, noisy_cand = sides(tmp_path / "noisy", 16, factors={"einsum-rows500": 1.15},
                                   process_sigma=0.15, base_options={"process_sigma": 0.15})
    quiet = {r.key: r for r in gate.compare(load(quiet_base), load(quiet_cand))}
    noisy = {r.key: r for r in gate.compare(load(noisy_base), load(noisy_cand))}
    key = MODULE + "test_matmul[einsum-rows500]"
    assert quiet[key].outcome is decide.Outcome.REGRESSED and not quiet[key].too_noisy
    assert noisy[key].outcome is decide.Outcome.NO_CHANGE and noisy[key].too_noisy
    assert noisy[key].estimate.mde > 0.10 and noisy[key].needs_blocks > 16
    q, n = quiet[key].estimate, noisy[key].estimate
    assert n.high - n.low > 3 * (q.high - q.low)


def test_an_alternative_reference_that_shifts_with_the_processes_cancels_their_noise(tmp_path):
    # The processes move the benchmark by 15 %; the "fma" alternative moves with them.
    noisy = {"factors": {"einsum-rows500": 1.15}, "process_sigma": 0.15}
    without = sides(tmp_path / "without", 16, base_options={"process_sigma": 0.15}, **noisy)
    tracked = sides(tmp_path / "with", 16, base_options={"process_sigma": 0.15, "tracking": "fma"},
                    tracking="fma", **noisy)
    key = MODULE + "test_matmul[einsum-rows500]"
    before = {r.key: r for r in gate.compare(*map(load, without))}[key]
    after = {r.key: r for r in gate.compare(*map(load, tracked))}[key]
    assert before.normalization in ("pair", "run", "none") and before.too_noisy
    assert after.normalization == "pair:fma" and after.outcome is decide.Outcome.REGRESSED
    assert after.estimate.mde < 0.10 < before.estimate.mde and not after.too_noisy
    assert after.estimate.high - after.estimate.low < (before.estimate.high - before.estimate.low) / 10
    assert "paired by fma" in render_summary([after])


def test_an_alternative_one_side_lacks_is_not_chosen(tmp_path):
    # An older base revision times no alternatives: the primary reference decides.
    base, cand = sides(tmp_path, 6, tracking="fma", process_sigma=0.15,
                       base_options={"process_sigma": 0.15})
    rows = gate.compare(load(base), load(cand))
    assert {r.normalization for r in rows} <= {"pair", "run", "none"}
    assert all(r.outcome is not decide.Outcome.INCOMPARABLE for r in rows)


def test_a_primary_reference_renamed_between_the_sides_is_not_chosen(tmp_path):
    # A revision that changed what the primary reference times (round 3, stop
    # 36: the builtin kernel through the registry -> torch's own operations).
    base, cand = sides(tmp_path, 6, tracking="fma", reference="torch",
                       base_options={"tracking": "fma"})
    rows = gate.compare(load(base), load(cand))
    assert {calm.split(r.normalization)[0] for r in rows} <= {"none", "pair:fma"}
    assert all(r.outcome is not decide.Outcome.INCOMPARABLE for r in rows)


def test_alternatives_pair_by_index_and_a_fault_in_one_drops_its_round(tmp_path):
    document = make_run(SUITE, seed=1, tracking="fma", rounds=50)
    bench = document["benchmarks"][0]
    bench["extra_info"][runs.ALTERNATIVES]["fma"][3] = 0.0  # a clock that did not advance
    loaded = runs.parse(json.loads(json.dumps(document)))
    first = next(iter(loaded.benchmarks.values()))
    assert len(first.samples) == len(first.reference) == len(first.alternatives["fma"]) == 49
    assert first.dropped == 1
    np.testing.assert_allclose(first.normalized("pair:fma"), first.samples / first.alternatives["fma"])
    bench["extra_info"][runs.ALTERNATIVES]["fma"].pop()
    with pytest.raises(runs.RunError, match="fma has 49 times for 50 samples; they must pair by index"):
        runs.parse(document)


def test_unpaired_sides_use_welch(tmp_path):
    for index in range(6):
        write(tmp_path / "b" / f"base-{index}.json", make_run(SUITE, seed=index))
    for index in range(5):
        write(tmp_path / "c" / f"cand-{index}.json",
              make_run(SUITE, seed=100 + index, factors={"einsum-rows500": 1.2}))
    rows = {r.key: r for r in gate.compare(load(tmp_path / "b"), load(tmp_path / "c"))}
    einsum = rows[MODULE + "test_matmul[einsum-rows500]"]
    assert not einsum.estimate.paired and einsum.estimate.processes == (6, 5)
    assert einsum.outcome is decide.Outcome.REGRESSED


def test_benchmark_thresholds_override_the_default(tmp_path):
    base, cand = sides(tmp_path / "a", 8, factors={"builtin-rows5": 1.08})
    assert verdicts(base, cand)["test_matmul[builtin-rows5]"] == "no change"
    own = {"thresholds": {"builtin-rows5": 0.02}}
    base, cand = sides(tmp_path / "b", 8, base_options=own, factors={"builtin-rows5": 1.08}, **own)
    [row] = [r for r in gate.compare(load(base), load(cand)) if "builtin" in r.key]
    assert (row.outcome, row.threshold) == (decide.Outcome.REGRESSED, 0.02)


def test_new_and_removed_benchmarks_are_listed(tmp_path):
    write(tmp_path / "b" / "block-001.json",
          make_run({"einsum-rows500": 360e-6, "dot_product-rows5": 300e-6}, seed=1))
    write(tmp_path / "c" / "block-001.json",
          make_run({"einsum-rows500": 360e-6, "numba-rows5": 20e-6}, seed=2))
    found = verdicts(tmp_path / "b", tmp_path / "c")
    assert found == {"test_matmul[einsum-rows500]": "undecided",
                     "test_matmul[dot_product-rows5]": "removed",
                     "test_matmul[numba-rows5]": "new"}


def test_changed_reference_is_incomparable_by_it_and_not_chosen_by_auto(tmp_path):
    base, cand = sides(tmp_path, 3)
    path = cand / "block-002.json"
    document = json.loads(path.read_text())
    document["benchmarks"][0]["extra_info"]["reference"] = "read_x"
    write(path, document)
    rows = gate.compare(load(base), load(cand), gate.Settings(normalize="pair"))
    assert rows[0].outcome is decide.Outcome.INCOMPARABLE and "read_x" in rows[0].note
    assert gate.exit_code(rows) == 2
    rows = gate.compare(load(base), load(cand))
    assert rows[0].normalization == "none" and rows[0].outcome is decide.Outcome.NO_CHANGE


# ---------------------------------------------------------------- the statistics

@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_mde_is_the_slowdown_caught_with_the_stated_power(statistic):
    """Simulated blocks: a true slowdown equal to the MDE at the estimator's
    typical spread is called regressed about POWER of the time; an unchanged
    benchmark never; one at the threshold at most as often as the tail allows."""
    estimator = STATISTICS[statistic]
    rng = np.random.default_rng(7)
    blocks, sd, tail, threshold = 16, 0.04, 0.05 / 2 / 16, 0.05
    spreads = [estimator.paired(rng.normal(0, sd, blocks), tail, threshold).spread
               for _ in range(3000)]
    true_mde = decide.mde(float(np.mean(spreads)), estimator.df(blocks), tail, threshold)

    def rate(effect: float) -> float:
        hits = [decide.verdict(estimator.paired(
            rng.normal(math.log1p(effect), sd, blocks), tail, threshold), threshold)
            is decide.Outcome.REGRESSED for _ in range(3000)]
        return float(np.mean(hits))

    assert rate(true_mde) == pytest.approx(POWER, abs=0.05)
    assert rate(0.0) == 0.0
    assert rate(threshold) <= tail * 1.5


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize("paired", [True, False])
def test_blocks_needed_reaches_the_detection_target(statistic, paired):
    estimator = STATISTICS[statistic]
    rng = np.random.default_rng(1)
    if paired:
        estimate = estimator.paired(rng.normal(0, 0.08, 12), 0.001, 0.05)
    else:
        estimate = estimator.unpaired(rng.normal(0, 0.06, 12), rng.normal(0, 0.06, 12),
                                      0.001, 0.05)
    needed = estimator.blocks_needed(estimate, 0.001, 0.05, 0.10)

    def mde_at(n):  # the dispersion measured, at n blocks (processes a side)
        if paired:
            spread, df = estimator.standard_error(estimate.dispersions[0], n), estimator.df(n)
        else:
            spread, df = estimator.welch(*(Summary(0.0, d, n) for d in estimate.dispersions))
        return decide.mde(spread, df, 0.001, 0.05)

    assert needed > 12 and mde_at(needed) <= 0.10 < mde_at(needed - 1)
    assert estimator.blocks_needed(estimate, 0.001, 0.05, 0.05) is None  # detect <= threshold


def test_the_trimmed_mean_sets_aside_a_far_process_and_the_mean_does_not():
    """The two statistics behind the seam differ where they should: one block
    far from the rest moves the mean's estimate and widens its interval."""
    differences = np.log([1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.6])
    trimmed = STATISTICS["trimmed"].paired(differences, 0.025, 0.05)
    mean = STATISTICS["mean"].paired(differences, 0.025, 0.05)
    assert trimmed.ratio == pytest.approx(math.exp(np.mean(np.sort(differences)[2:-2])))
    assert mean.ratio == pytest.approx(math.exp(np.mean(differences)))
    assert mean.high - mean.low > 3 * (trimmed.high - trimmed.low)
    assert (trimmed.df, mean.df) == (5, 9)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_many_samples_at_once_give_each_samples_own_interval(statistic):
    """paired_bounds (the sequential rule's simulation) is paired, sample by sample."""
    estimator = STATISTICS[statistic]
    rng = np.random.default_rng(3)
    for n in (2, 4, 6, 17):
        samples = rng.standard_t(3, (5, n)) * 0.02
        ratio, low, high = estimator.paired_bounds(samples, 0.001)
        for i, sample in enumerate(samples):
            one = estimator.paired(sample, 0.001, 0.05)
            assert (ratio[i], low[i], high[i]) == pytest.approx((one.ratio, one.low, one.high),
                                                                rel=1e-12)


def test_the_settings_choose_the_statistic(tmp_path):
    base, cand = sides(tmp_path, 8, factors={"einsum-rows500": 1.15})
    key = MODULE + "test_matmul[einsum-rows500]"
    for name in STATISTICS:
        rows = {r.key: r for r in gate.compare(load(base), load(cand),
                                               gate.Settings(statistic=name))}
        assert rows[key].outcome is decide.Outcome.REGRESSED
        assert rows[key].estimate.df == STATISTICS[name].df(8)
    with pytest.raises(ValueError, match="statistic must be one of"):
        gate.Settings(statistic="median")


def test_more_benchmarks_widen_each_interval(tmp_path):
    """Bonferroni: the family-wise rate is split over the benchmarks judged."""
    base, cand = sides(tmp_path, 6)
    one = {r.key: r for r in gate.compare([runs.load(p) for p in sorted(base.glob("*"))],
                                          load(cand))}
    wide = one[MODULE + "test_matmul[einsum-rows500]"].estimate
    trimmed = STATISTICS["trimmed"]
    values = np.log([1.0, 1.01, 0.99, 1.02, 0.98, 1.0])
    narrow = trimmed.paired(values, 0.05 / 2, 0.05)
    wider = trimmed.paired(values, 0.05 / 2 / 3, 0.05)
    assert wider.high - wider.low > narrow.high - narrow.low
    assert wide.df == trimmed.df(6)


# ---------------------------------------------------------------- comparable runs only

@pytest.mark.parametrize("field, changes", [
    ("node", {"node": "other-box"}),
    ("torch", {"torch": "2.5.0+cpu"}),
    ("threads", {"threads": 2}),
])
def test_different_machine_or_environment_refused(tmp_path, field, changes):
    base, cand = sides(tmp_path, 3, **changes)
    with pytest.raises(gate.RefusedError, match=f"{field}: "):
        gate.compare(load(base), load(cand))
    allowed = gate.compare(load(base), load(cand), gate.Settings(allow_different_machine=True))
    assert {r.outcome for r in allowed} == {decide.Outcome.NO_CHANGE}


def test_baseline_with_an_injected_slowdown_is_refused(tmp_path):
    base, cand = sides(tmp_path, 3, base_options={"slowdown": 0.1})
    with pytest.raises(runs.RunError, match="not a baseline.*injected slowdown.*einsum"):
        gate.compare(load(base), load(cand))
    # A slowed candidate is fine: that is how the gates are tried out.
    base, cand = sides(tmp_path / "ok", 3, slowdown=0.1)
    gate.compare(load(base), load(cand))


# ---------------------------------------------------------------- command line

def test_cli_reads_folders_and_writes_markdown_and_json(tmp_path, capsys):
    base, cand = sides(tmp_path, 8, factors={"einsum-rows500": 1.2})
    md, js = tmp_path / "gate.md", tmp_path / "gate.json"
    assert gate_main([str(base), str(cand), "--markdown", str(md), "--json", str(js)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "einsum-rows500" in out
    table = by_first_column(md.read_text().split("\n\n", 2)[2])
    assert table["test_matmul[einsum-rows500]"]["verdict"].startswith("REGRESSED")
    assert table["test_matmul[einsum-rows500]"]["processes"] == "8 blocks"
    assert table["test_matmul[broadcast-rows5]"]["verdict"].startswith("no change")
    found = {short_name(b["benchmark"]): b for b in json.loads(js.read_text())["benchmarks"]}
    einsum = found["test_matmul[einsum-rows500]"]
    assert einsum["verdict"] == "regressed" and einsum["processes"] == [8, 8]
    assert einsum["interval"][0] > 1.05 and einsum["mde"] > 0.05


def test_cli_finds_saved_runs_by_id_like_pytest_benchmark(tmp_path, monkeypatch, capsys):
    from pytest_benchmark.utils import get_machine_id

    folder = tmp_path / ".benchmarks" / get_machine_id()
    for number in range(1, 5):
        write(folder / f"000{number}_abc_20261129_000000.json",
              make_run(SUITE, seed=number, factors={"einsum-rows500": 1.3 if number > 2 else 1}))
    monkeypatch.chdir(tmp_path)
    assert gate_main(["0001,0002", "0003,0004"]) in (0, 1)  # unpaired, 2 vs 2: judged
    assert "einsum-rows500" in capsys.readouterr().out
    assert gate_main(["0001", "0009"]) == 2
    assert "no saved run '0009'" in capsys.readouterr().err
    assert gate_main(["0001", "0003"]) == 2  # one process a side: nothing judged
    assert "one process per side" in capsys.readouterr().out


def test_cli_refuses_different_machines_unless_allowed(tmp_path, capsys):
    base, cand = sides(tmp_path, 3, node="ci-runner")
    assert gate_main([str(base), str(cand)]) == 3
    err = capsys.readouterr().err
    assert "different machines" in err and "'vm' != 'ci-runner'" in err
    assert gate_main([str(base), str(cand), "--allow-different-machine"]) == 0
    assert "warning: comparing across environments" in capsys.readouterr().err


@pytest.mark.parametrize("corrupt, message", [
    ("{not json", "not a readable JSON file"),
    ("[]", "not a pytest-benchmark run"),
    ('{"benchmarks": []}', "holds no benchmarks"),
])
def test_corrupt_run(tmp_path, capsys, corrupt, message):
    base, cand = sides(tmp_path, 3)
    write(base / "block-002.json", corrupt)
    assert gate_main([str(base), str(cand)]) == 2
    err = capsys.readouterr().err
    assert "block-002.json" in err and message in err


@pytest.mark.parametrize("damage, message", [
    (lambda b: b["stats"].pop("data"), "--benchmark-save-data"),
    (lambda b: b["extra_info"].pop("reference_data"), "reference_data"),
    (lambda b: b["extra_info"]["reference_data"].pop(), "pair by index"),
    (lambda b: b["stats"]["data"].__setitem__(0, "fast"), "not a number"),
    (lambda b: b["stats"].__setitem__("data", [0.0] * 196 + [1e-5] * 4),
     "only 4 of 200 rounds left after dropping 196 clock fault(s)"),
    (lambda b: b["extra_info"].__setitem__("gate_threshold", "big"), "gate_threshold"),
])
def test_run_without_what_the_gate_needs(tmp_path, capsys, damage, message):
    base, cand = sides(tmp_path, 3)
    document = json.loads((base / "block-001.json").read_text())
    damage(document["benchmarks"][1])
    write(base / "block-001.json", document)
    assert gate_main([str(base), str(cand)]) == 2
    err = capsys.readouterr().err
    assert "block-001.json" in err and "broadcast-rows5" in err and message in err


def test_missing_side(tmp_path, capsys):
    _, cand = sides(tmp_path, 3)
    assert gate_main([str(tmp_path / "nope.json"), str(cand)]) == 2
    assert "nope.json: no such file or folder" in capsys.readouterr().err


def test_end_to_end_subprocess(tmp_path):
    base, cand = sides(tmp_path, 8, factors={"einsum-rows500": 1.2})
    found = subprocess.run([sys.executable, "-m", "bench.gate", str(base), str(cand)],
                           check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert found.returncode == 1, found.stderr
    assert "REGRESSED" in found.stdout and "1 regressed, 2 no change" in found.stdout


def test_bad_settings_are_refused_naming_them(tmp_path, capsys):
    base, cand = sides(tmp_path, 3)
    assert gate_main([str(base), str(cand), "--threshold", "1.5"]) == 2
    assert "threshold must be a fraction in (0, 1), got 1.5" in capsys.readouterr().err


def test_the_gate_and_bench_ab_take_the_same_gate_options():
    from bench.gate import ab
    from bench.gate.__main__ import parser as gate_parser

    def gate_options(parser):
        [group] = [g for g in parser._action_groups if g.title == "gate options"]
        return {a.dest: (a.default, a.help) for a in group._group_actions}

    assert gate_options(gate_parser()) == gate_options(ab.parser())
    assert {"threshold", "alpha", "detect", "normalize", "statistic",
            "allow_different_machine"} <= set(gate_options(ab.parser()))
    args = ab.parser().parse_args(["HEAD", "--statistic", "mean", "--normalize", "pair"])
    assert (args.statistic, args.normalize) == ("mean", "pair")


def test_an_mde_beyond_floating_point_is_infinite_not_an_error():
    # one degree of freedom and a wide spread: exp() of the noncentral t would overflow
    assert decide.mde(spread=50.0, df=1.0, tail=0.0005, threshold=0.05) == math.inf


def test_calm_rounds_cancel_a_shared_core_that_the_references_do_not_track(tmp_path):
    # Each process spends a share of its rounds, drawn per process, on a shared
    # core where the benchmark runs 1.4x slower, its reference 1.1x and the fma
    # probe 1.6x: no reference tracks it, the probe tells which rounds were calm.
    shared = {"shared": 1.4, "tracking": "fma", "process_sigma": 0.002}
    base, cand = sides(tmp_path, 12, base_options=shared,
                       factors={"einsum-rows500": 1.15}, **shared)
    base_runs, cand_runs = load(base), load(cand)
    rows = {r.key: r for r in gate.compare(base_runs, cand_runs)}
    key = MODULE + "test_matmul[einsum-rows500]"
    row = rows[key]
    assert calm.split(row.normalization)[1], row.normalization
    assert row.outcome is decide.Outcome.REGRESSED and 1.13 < row.estimate.ratio < 1.17
    b, c = [r.benchmarks[key] for r in base_runs], [r.benchmarks[key] for r in cand_runs]
    settings = gate.Settings()
    tail = decide.tail(settings.alpha, len(SUITE))
    plain = min(gate.judge(mode, b, c, list(zip(b, c)), settings.estimator, tail, THRESHOLD).mde
                for mode in ("pair", "run", "none", "pair:fma"))
    assert row.estimate.mde < THRESHOLD + 0.01 and plain > 2 * THRESHOLD, plain
    assert "calm rounds" in render_summary([row]) and ", calm)" in text_table([row], settings)


def test_a_process_without_calm_rounds_leaves_its_block_out(tmp_path):
    base, cand = sides(tmp_path, 6, tracking="fma", base_options={"tracking": "fma"})
    b = [r.benchmarks[MODULE + "test_matmul[einsum-rows500]"] for r in load(base)]
    c = [r.benchmarks[MODULE + "test_matmul[einsum-rows500]"] for r in load(cand)]
    levels = calm.levels([*b, *c])
    assert len(calm.samples(b[0], "pair+calm", levels)) > 0.9 * len(b[0].samples)
    busy = replace(b[0], alternatives={"fma": b[0].alternatives["fma"] * 2})
    assert calm.samples(busy, "pair+calm", levels) is None
    assert calm.samples(busy, "pair", levels) is not None  # a plain mode keeps every round
    estimate = gate.judge("pair+calm", [busy, *b[1:]], c, list(zip([busy, *b[1:]], c)),
                          gate.Settings().estimator, 0.025, THRESHOLD)
    assert estimate.processes == (5, 5)
    # Without the probe on every process, no calm mode is offered.
    assert not any(calm.split(m)[1] for m in gate.normalization_choices(
        "auto", [replace(b[0], alternatives={}), *b[1:]], c))


def test_the_probes_second_reading_finds_the_calm_rounds_where_its_first_pays_for_the_call_before(
        tmp_path):
    # The probe's first reading pays 2x for the call before it in 97 % of the
    # rounds, whatever the core's state: too few rounds are calm by it. Its
    # second reading, right after, reads the core alone (bench.gate.calm.AGAIN).
    shared = {"shared": 1.4, "tracking": "fma", "process_sigma": 0.002, "first_slow": 0.97}
    base, cand = sides(tmp_path, 12, base_options=shared,
                       factors={"einsum-rows500": 1.15}, **shared)
    base_runs, cand_runs = load(base), load(cand)
    key = MODULE + "test_matmul[einsum-rows500]"
    row = {r.key: r for r in gate.compare(base_runs, cand_runs)}[key]
    assert calm.split(row.normalization)[1] == calm.AGAIN, row.normalization
    assert row.outcome is decide.Outcome.REGRESSED and 1.13 < row.estimate.ratio < 1.17
    assert row.estimate.mde < THRESHOLD + 0.01
    assert ", calm by fma_again)" in text_table([row], gate.Settings())
    assert "timed a second time" in render_summary([row])
    b, c = [r.benchmarks[key] for r in base_runs], [r.benchmarks[key] for r in cand_runs]
    choices = gate.normalization_choices("auto", b, c)
    # a probe only: its calm rounds are a mode of every plain one, never a reference to divide by
    assert "pair:fma_again" not in choices and "pair:fma+calm_again" in choices
    assert len(choices) == 3 * len([m for m in choices if calm.split(m)[1] is None])
    # A side without the second reading offers no mode of it.
    older = [replace(x, alternatives={"fma": x.alternatives["fma"]}) for x in b]
    assert not any(calm.split(m)[1] == calm.AGAIN for m in gate.normalization_choices("auto", older, c))
    assert calm.samples(older[0], "pair+calm_again", calm.levels([*older, *c])) is None
