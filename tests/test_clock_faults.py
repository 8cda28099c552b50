"""Clock faults (a timed half that reads <= 0 or not finite) cost one round, not a
run: dropped with their paired half where they are timed, counted in the saved
run, dropped on load from runs saved before, and said by the gate."""
from __future__ import annotations

import json
import math

import pytest

from bench import runs
from bench.gate.__main__ import main as gate_main
from synthetic_runs import MODULE, block_folders, make_run

pytest_plugins = ["pytester"]

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6}
KEY = MODULE + "test_matmul[broadcast-rows5]"


def aa_sides(tmp_path, blocks=6):
    return block_folders(tmp_path, SUITE, blocks)


def damage(path, edit):
    document = json.loads(path.read_text())
    edit(next(b for b in document["benchmarks"] if b["fullname"] == KEY))
    path.write_text(json.dumps(document))


def test_a_zero_and_a_negative_sample_gate_as_usual_and_are_named(tmp_path, capsys):
    base, cand = aa_sides(tmp_path)

    def faults(bench):
        bench["stats"]["data"][3] = 0.0                 # a CPU-time read that did not advance
        bench["extra_info"]["reference_data"][7] = -1e-6  # a clock that stepped back

    damage(base / "block-002.json", faults)
    assert gate_main([str(base), str(cand), "--json", str(tmp_path / "gate.json")]) == 0
    out = capsys.readouterr().out
    assert "Clock faults: 2 round(s) dropped" in out and "in 1 benchmark(s)" in out
    gate = json.loads((tmp_path / "gate.json").read_text())
    found = {b["benchmark"]: b for b in gate["benchmarks"]}
    assert found[KEY]["dropped_rounds"] == 2 and found[KEY]["verdict"] == "no change"


def test_the_loader_drops_faulty_rounds_with_their_pair_and_counts_them(tmp_path):
    document = make_run(SUITE, seed=1, rounds=50)
    bench = next(b for b in document["benchmarks"] if b["fullname"] == KEY)
    data, reference = bench["stats"]["data"], bench["extra_info"]["reference_data"]
    data[0], reference[1], data[2] = 0.0, math.nan, -3.0
    kept_pairs = [(d, r) for i, (d, r) in enumerate(zip(data, reference, strict=True)) if i > 2]
    bench["extra_info"][runs.DROPPED] = 4  # already dropped when it was timed
    loaded = runs.parse(json.loads(json.dumps(document)), "run.json").benchmarks[KEY]
    assert loaded.dropped == 4 + 3
    assert list(zip(loaded.samples, loaded.reference, strict=True)) == kept_pairs
    assert loaded.median == pytest.approx(sorted(d for d, _ in kept_pairs)[23])  # recomputed


@pytest.mark.parametrize("valid", [0, runs.MIN_VALID_ROUNDS - 1])
def test_too_few_valid_rounds_is_refused_with_the_numbers(valid):
    document = make_run(SUITE, seed=1, rounds=40)
    bench = next(b for b in document["benchmarks"] if b["fullname"] == KEY)
    bench["stats"]["data"][valid:] = [0.0] * (40 - valid)
    with pytest.raises(runs.RunError, match=f"only {valid} of 40 rounds left after dropping "
                                            f"{40 - valid} clock fault"):
        runs.parse(document, "run.json")


def test_a_faulty_count_field_is_an_error():
    document = make_run(SUITE, seed=1)
    document["benchmarks"][0]["extra_info"][runs.DROPPED] = "many"
    with pytest.raises(runs.RunError, match="dropped_rounds must be a count"):
        runs.parse(document, "run.json")


FAULTY_CLOCK = """
    import time

    reads = 0

    def clock():
        # Every 7th read repeats the previous one (a read that did not advance:
        # that half times 0), every 11th steps back a millisecond.
        global reads, last
        reads += 1
        if reads % 7 == 0:
            return last
        last = time.perf_counter() - (1e-3 if reads % 11 == 0 else 0.0)
        return last

    def stuck():
        return 1.0
"""

SUITE_ON_THAT_CLOCK = """
    from bench.runs import Workload
    from bench.suite.cases import Reference

    def test_noop(timed):
        timed(lambda: sum(range(50)), Reference("nothing", lambda: None),
              Workload(suite="matmul", kernel="noop", rows=1, flops=1, bytes=1))
"""


def test_faults_of_a_real_clock_are_dropped_where_they_are_timed(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else the inner run is untimed
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(faulty_clock=FAULTY_CLOCK, test_inner=SUITE_ON_THAT_CLOCK)
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(
        "--benchmark-enable", "--benchmark-timer=faulty_clock.clock", "--benchmark-max-time=0.02",
        "--benchmark-min-rounds=60", "--benchmark-json=run.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    saved = json.loads((pytester.path / "run.json").read_text())["benchmarks"][0]
    data, reference = saved["stats"]["data"], saved["extra_info"]["reference_data"]
    assert saved["extra_info"][runs.DROPPED] > 0
    assert len(data) == len(reference) and min(data) > 0 and min(reference) > 0
    assert saved["stats"]["min"] == min(data)  # statistics of the kept rounds
    runs.load(pytester.path / "run.json")


def test_a_clock_that_never_advances_fails_the_benchmark_with_the_numbers(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(faulty_clock=FAULTY_CLOCK, test_inner=SUITE_ON_THAT_CLOCK)
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(
        "--benchmark-enable", "--benchmark-timer=faulty_clock.stuck", "--benchmark-max-time=0.02",
        "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ClockFaultError: benchmark: only 0 of * rounds left after "
                                 "dropping * clock fault(s)*"])
