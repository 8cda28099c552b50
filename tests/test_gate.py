"""The regression gate (bench.gate) on synthetic saved runs.

Runs are built like pytest-benchmark's --benchmark-json output with
--benchmark-save-data and bench.timing's paired reference, from lognormal
samples with fixed seeds, so every verdict here is deterministic.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import gate, runs, stats

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests/benchmarks/test_matmul_benchmarks.py::"


def make_run(benchmarks: dict[str, float], *, seed: int, factors: dict[str, float] | None = None,
             rounds: int = 300, sigma: float = 0.03, node: str = "vm", torch: str = "2.13.0+cpu",
             threads: int = 2, extra: dict[str, dict] | None = None) -> dict:
    """A saved run: {name: median seconds}; factors slow (>1) or speed up (<1) a benchmark."""
    rng = np.random.default_rng(seed)
    factors = factors or {}
    entries = []
    for name, median in benchmarks.items():
        # A shared drift per round hits both halves of the pair, as on a busy machine.
        drift = rng.lognormal(0.0, sigma, rounds)
        reference = 20e-6 * drift * rng.lognormal(0.0, sigma / 3, rounds)
        data = median * factors.get(name, 1.0) * drift * rng.lognormal(0.0, sigma / 3, rounds)
        entries.append({
            "group": "matmul", "name": f"test_matmul[{name}]", "fullname": MODULE + f"test_matmul[{name}]",
            "options": {"timer": "perf_counter"},
            "stats": {"data": data.tolist(), "mean": float(data.mean()),
                      "median": float(np.median(data)), "rounds": rounds},
            "extra_info": {"kernel": name.split("-")[0], "reference": "builtin",
                           "reference_data": reference.tolist(), "torch": torch,
                           "threads": threads, "slowdown": 0.0, **(extra or {}).get(name, {})},
        })
    return {
        "machine_info": {"node": node, "machine": "x86_64", "python_implementation": "CPython",
                         "python_version": "3.11.7", "cpu": {"brand_raw": "AMD EPYC", "count": 2}},
        "commit_info": {"id": "abc"}, "benchmarks": entries, "datetime": "2026-11-29",
        "version": "5.2.3",
    }


SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6, "builtin-rows5": 6e-6}


def verdicts_of(baseline: dict, candidate: dict, **options) -> dict[str, str]:
    return {v.key.rpartition("::")[2]: v.verdict for v in gate.compare(baseline, candidate, **options)}


def write(path: Path, document: dict | str) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


# ---------------------------------------------------------------- verdicts

def test_regression_found():
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2, factors={"einsum-rows500": 1.10})
    found = verdicts_of(base, cand)
    assert found["test_matmul[einsum-rows500]"] == "regressed"
    assert found["test_matmul[broadcast-rows5]"] == "no change"
    assert gate.exit_code(gate.compare(base, cand)) == gate.EXIT_REGRESSION


def test_no_change_on_unchanged_code():
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2)
    assert set(verdicts_of(base, cand).values()) == {"no change"}
    assert gate.exit_code(gate.compare(base, cand)) == gate.EXIT_OK


def test_machine_drift_cancels_in_the_pair():
    """A whole run 30 % slower (reference too) is no regression."""
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2)
    for entry in cand["benchmarks"]:
        entry["stats"]["data"] = [t * 1.3 for t in entry["stats"]["data"]]
        entry["extra_info"]["reference_data"] = [t * 1.3 for t in entry["extra_info"]["reference_data"]]
    assert set(verdicts_of(base, cand).values()) == {"no change"}
    # ...whereas raw times see it.
    assert "regressed" in verdicts_of(base, cand, normalise="none").values()


def test_auto_compares_raw_times_of_calls_far_longer_than_their_reference():
    suite = {"three_loops-rows5": 0.3, "einsum-rows500": 360e-6}
    base = make_run(suite, seed=1, rounds=5)
    cand = make_run(suite, seed=2, rounds=5)
    modes = {v.key.rpartition("[")[2]: v.normalised for v in gate.compare(base, cand)}
    assert modes == {"three_loops-rows5]": "none", "einsum-rows500]": "pair"}
    assert "raw" in gate.text_table(gate.compare(base, cand))


def test_improvement():
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2, factors={"broadcast-rows5": 0.8})
    found = verdicts_of(base, cand)
    assert found["test_matmul[broadcast-rows5]"] == "improved"
    assert gate.exit_code(gate.compare(base, cand)) == gate.EXIT_OK


def test_change_inside_threshold_is_no_change():
    base = make_run(SUITE, seed=1, rounds=2000, sigma=0.01)
    cand = make_run(SUITE, seed=2, rounds=2000, sigma=0.01, factors={"einsum-rows500": 1.03})
    assert verdicts_of(base, cand)["test_matmul[einsum-rows500]"] == "no change"


def test_small_benchmarks_get_the_wider_threshold_unless_they_set_their_own():
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2, factors={"builtin-rows5": 1.10})
    assert verdicts_of(base, cand)["test_matmul[builtin-rows5]"] == "no change"
    own = {"builtin-rows5": {"gate_threshold": 0.03}}
    cand = make_run(SUITE, seed=2, factors={"builtin-rows5": 1.10}, extra=own)
    [row] = [v for v in gate.compare(base, cand) if "builtin" in v.key]
    assert (row.verdict, row.threshold) == ("regressed", 0.03)


def test_new_and_removed_benchmarks_are_listed():
    base = make_run({"einsum-rows500": 360e-6, "dot_product-rows5": 300e-6}, seed=1)
    cand = make_run({"einsum-rows500": 360e-6, "numba-rows5": 20e-6}, seed=2)
    found = verdicts_of(base, cand)
    assert found == {"test_matmul[einsum-rows500]": "no change",
                     "test_matmul[dot_product-rows5]": "removed",
                     "test_matmul[numba-rows5]": "new"}
    table = gate.text_table(gate.compare(base, cand))
    assert "removed" in table and "new" in table and "1 new, 1 removed" in table


def test_nothing_in_common_is_not_a_pass():
    base = make_run({"einsum-rows500": 360e-6}, seed=1)
    cand = make_run({"numba-rows500": 360e-6}, seed=2)
    assert gate.exit_code(gate.compare(base, cand)) == gate.EXIT_BAD_INPUT


def test_changed_reference_is_incomparable():
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2)
    cand["benchmarks"][0]["extra_info"]["reference"] = "read_x"
    found = verdicts_of(base, cand)
    assert found["test_matmul[einsum-rows500]"] == "incomparable"
    assert gate.exit_code(gate.compare(base, cand)) == gate.EXIT_BAD_INPUT


# ---------------------------------------------------------------- comparable runs only

@pytest.mark.parametrize("field, changes", [
    ("node", {"node": "other-box"}),
    ("torch", {"torch": "2.5.0+cpu"}),
    ("threads", {"threads": 1}),
])
def test_different_machine_or_environment_refused(field, changes):
    base = make_run(SUITE, seed=1)
    cand = make_run(SUITE, seed=2, **changes)
    with pytest.raises(gate.RefusedError, match=f"{field}: "):
        gate.compare(base, cand)
    # Allowed when asked for.
    assert set(verdicts_of(base, cand, allow_different_machine=True).values()) == {"no change"}


def test_cli_refuses_different_machine_unless_allowed(tmp_path, capsys):
    base = write(tmp_path / "base.json", make_run(SUITE, seed=1))
    cand = write(tmp_path / "cand.json", make_run(SUITE, seed=2, node="ci-runner"))
    assert gate.main([str(base), str(cand)]) == gate.EXIT_REFUSED
    err = capsys.readouterr().err
    assert "different machines" in err and "'vm' != 'ci-runner'" in err
    assert gate.main([str(base), str(cand), "--allow-different-machine"]) == gate.EXIT_OK
    assert "warning: comparing across environments" in capsys.readouterr().err


# ---------------------------------------------------------------- unusable input

def test_missing_baseline(tmp_path, capsys):
    cand = write(tmp_path / "cand.json", make_run(SUITE, seed=2))
    assert gate.main([str(tmp_path / "nope.json"), str(cand)]) == gate.EXIT_BAD_INPUT
    assert "nope.json: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("corrupt, message", [
    ("{not json", "not a readable JSON file"),
    ("[]", "not a pytest-benchmark run"),
    ('{"benchmarks": []}', "holds no benchmarks"),
])
def test_corrupt_baseline(tmp_path, capsys, corrupt, message):
    base = write(tmp_path / "base.json", corrupt)
    cand = write(tmp_path / "cand.json", make_run(SUITE, seed=2))
    assert gate.main([str(base), str(cand)]) == gate.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "base.json" in err and message in err


@pytest.mark.parametrize("damage, message", [
    (lambda b: b["stats"].pop("data"), "--benchmark-save-data"),
    (lambda b: b["extra_info"].pop("reference_data"), "reference_data"),
    (lambda b: b["extra_info"]["reference_data"].pop(), "pair by index"),
    (lambda b: b["stats"]["data"].__setitem__(0, "fast"), "not a finite number"),
    (lambda b: b["stats"]["data"].__setitem__(0, -1.0), "<= 0"),
    (lambda b: b["extra_info"].__setitem__("gate_threshold", "big"), "gate_threshold"),
])
def test_run_without_what_the_gate_needs(tmp_path, capsys, damage, message):
    document = make_run(SUITE, seed=1)
    damage(document["benchmarks"][1])
    base = write(tmp_path / "base.json", document)
    cand = write(tmp_path / "cand.json", make_run(SUITE, seed=2))
    assert gate.main([str(base), str(cand)]) == gate.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "base.json" in err and "broadcast-rows5" in err and message in err


# ---------------------------------------------------------------- command line

def test_markdown_report(tmp_path, capsys):
    base = write(tmp_path / "base.json", make_run(SUITE, seed=1))
    cand = write(tmp_path / "cand.json", make_run(SUITE, seed=2, factors={"einsum-rows500": 1.2}))
    out = tmp_path / "gate.md"
    assert gate.main([str(base), str(cand), "--markdown", str(out)]) == gate.EXIT_REGRESSION
    report = out.read_text()
    assert "| benchmark | baseline | candidate | change [interval] | threshold | verdict |" in report
    assert "| test_matmul[einsum-rows500] |" in report and "REGRESSED" in report
    assert "REGRESSED" in capsys.readouterr().out


def test_end_to_end_subprocess(tmp_path):
    base = write(tmp_path / "base.json", make_run(SUITE, seed=1))
    slow = write(tmp_path / "slow.json", make_run(SUITE, seed=2, factors={"einsum-rows500": 1.2}))
    found = subprocess.run([sys.executable, "-m", "bench.gate", str(base), str(slow)],
                           check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert found.returncode == 1, found.stderr
    assert "REGRESSED" in found.stdout and "einsum-rows500" in found.stdout
    assert "1 regressed, 2 no change" in found.stdout


def test_main_exit_0_without_regression(tmp_path, capsys):
    base = write(tmp_path / "base.json", make_run(SUITE, seed=1))
    same = write(tmp_path / "same.json", make_run(SUITE, seed=3))
    assert gate.main([str(base), str(same)]) == gate.EXIT_OK
    assert "3 no change" in capsys.readouterr().out


# ---------------------------------------------------------------- statistics

def test_exact_median_distribution_matches_resampling():
    rng = np.random.default_rng(0)
    samples = rng.lognormal(0.0, 0.3, 7)
    brute = np.sort(samples[rng.integers(0, 7, (100_000, 7))], axis=1)[:, 3]
    exact = stats.draw_medians(samples, rng, 100_000)
    for value in samples:
        assert np.mean(exact == value) == pytest.approx(np.mean(brute == value), abs=0.01)


def test_verdict_needs_the_whole_interval_beyond_the_threshold():
    assert stats.verdict(stats.Interval(1.10, 1.06, 1.14), 0.05) == stats.REGRESSED
    assert stats.verdict(stats.Interval(1.10, 1.04, 1.16), 0.05) == stats.NO_CHANGE
    assert stats.verdict(stats.Interval(0.90, 0.86, 0.94), 0.05) == stats.IMPROVED
    assert stats.verdict(stats.Interval(1.00, 0.90, 1.10), 0.05) == stats.NO_CHANGE


def test_run_noise_widens_the_interval_and_seed_fixes_it():
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0, 0.02, 500), rng.lognormal(0.05, 0.02, 500)
    narrow = stats.ratio_interval(a, b, confidence=0.99, seed=3)
    wide = stats.ratio_interval(a, b, confidence=0.99, seed=3, run_noise=0.02)
    assert wide.low < narrow.low < narrow.ratio == wide.ratio < narrow.high < wide.high
    assert stats.ratio_interval(a, b, confidence=0.99, seed=3) == narrow


def test_parse_names_the_source():
    with pytest.raises(runs.RunError, match="my-run: not a pytest-benchmark run"):
        runs.parse({"benchmarks": None}, "my-run")


def test_study_judges_saved_runs(tmp_path):
    """bench.study's judging (the measuring is the slow, benchmark-only part)."""
    from bench import study

    files = []
    for index, effect in enumerate([0.0, 0.0, 0.0, 0.2]):
        name = f"{index:03d}.json"
        write(tmp_path / name, make_run(SUITE, seed=index, factors={"einsum-rows500": 1 + effect}))
        files.append({"file": name, "effect": effect})
    write(tmp_path / "manifest.json", {"kernel": "einsum", "subset": "x", "max_time": 0.3,
                                       "threads": 1, "clock": "wall", "runs": files})
    manifest, samples = study.load(tmp_path)
    settings = {"threshold": 0.05, "small_threshold": 0.10, "confidence": 0.99,
                "run_noise": 0.015, "normalise": "auto"}
    table = study.report(manifest, samples, settings)
    ours = next(line for line in table.splitlines() if line.startswith("| ours"))
    assert "0.0 % (0/3)" in ours and "100.0 % (3/3)" in ours
    assert "| stock `--benchmark-compare-fail=mean:10%` |" in table
