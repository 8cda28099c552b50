"""The memory gate from one process a side (bench.gate.memory).

Real benchmark processes: the tree as it is, twice (A/A), and a copy with two
patches: einsum, broken, copies its input; lesson.broadcast builds one
temporary of its input's size before its loop. `python -m bench.gate` on one
run a side must flag exactly the patched kernels' benchmarks, as memory
regressions (exit 1), and nothing on A/A (memory decided, time not: exit 2).
Then the rule and the exit statuses on synthetic runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aslr
import pytest

from bench.gate import compare as gate
from bench.gate import memory
from bench.gate.ab import snapshot
from bench.gate.decide import Outcome
from bench.gate.study.patches import Patch
from bench.runs import parse
from bench.suite import cases, command
from bench.suite.memory import MEMRAY_MISSING
from matmul import compiled
from synthetic_runs import make_run

ROOT = Path(__file__).resolve().parents[1]
SUBSET = "(rows5] or rows500]) and (einsum or broadcast or builtin or tiled)"
PATCHED = {"einsum", "broadcast"}
PATCHES = Patch("memory", "einsum copies its input; broadcast stages a copy of it", (
    ("matmul/lesson.py", 'return torch.einsum("ik,kj->ij", a, b)',
     'return torch.einsum("ik,kj->ij", a.clone(), b)'),
    ("matmul/lesson.py", "    for i in range(a.shape[0]):\n        c[i] = (a[i, :, None] * b)",
     "    a = a * 1.0\n    for i in range(a.shape[0]):\n        c[i] = (a[i, :, None] * b)"),
))


def gate_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.gate", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def processes(tmp_path_factory, mnist_dir):
    """One gate-ready run each of: the tree, the tree again, the patched copy."""
    if MEMRAY_MISSING:
        pytest.skip(MEMRAY_MISSING)
    scratch = tmp_path_factory.mktemp("memory-gate")
    base = snapshot(ROOT, scratch / "base")
    patched = snapshot(ROOT, scratch / "patched")
    PATCHES.apply(patched)
    env = command.environment(gate_ready=True, mnist_dir=mnist_dir)
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_")}

    def measure(tree: Path, name: str) -> Path:
        out = scratch / name / "run.json"  # a folder each: the processes run at once
        cmd = command.pytest_command(f"--benchmark-json={out}", "--benchmark-max-time=0.002",
                                     "--benchmark-min-rounds=3", "-k", SUBSET, gate_ready=True)
        done = subprocess.run(cmd, cwd=tree, env={**env, "PYTHONPATH": str(tree)},
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
        return out

    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = {name: pool.submit(measure, tree, name)
                for name, tree in (("base", base), ("again", base), ("patched", patched))}
        return {name: job.result() for name, job in jobs.items()}


def verdicts(output: Path) -> dict[str, str]:
    """benchmark -> memory verdict, from gate.json."""
    found = json.loads(output.read_text())["benchmarks"]
    return {row["benchmark"].rpartition("::")[2]: row["verdict"]
            for row in found if row["metric"] == memory.HOST}


@pytest.mark.spawns
@pytest.mark.mnist
def test_one_process_a_side_flags_exactly_the_patched_kernels(processes, tmp_path):
    out = tmp_path / "gate.json"
    done = gate_cli(str(processes["base"]), str(processes["patched"]), "--json", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    found = verdicts(out)
    assert len(found) >= 12, found
    flagged = {name for name, verdict in found.items() if verdict == Outcome.REGRESSED.value}
    expected = {name for name in found
                if name.partition("[")[2].split("-")[0] in PATCHED}
    assert flagged == expected and expected, (flagged, expected)
    assert "time undecided" not in done.stderr  # a regression says so itself: exit 1


@pytest.mark.spawns
@pytest.mark.mnist
def test_one_process_a_side_on_a_a_flags_no_memory_change(processes, tmp_path):
    out = tmp_path / "gate.json"
    done = gate_cli(str(processes["base"]), str(processes["again"]), "--json", str(out))
    assert done.returncode == 2, done.stdout + done.stderr  # time undecided
    assert "time undecided (memory: no regression)" in done.stderr
    assert set(verdicts(out).values()) == {Outcome.NO_CHANGE.value}
    done = gate_cli(str(processes["base"]), str(processes["again"]), "--metric", "memory")
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- synthetic runs

SUITE = {"einsum-rows500": 360e-6, "builtin-rows500": 300e-6}


def side(peaks: dict[str, int], seed: int):
    return parse(make_run(SUITE, seed=seed, peaks=peaks), f"run{seed}.json")


def memory_rows(rows):
    return {r.key.rpartition("[")[2].rstrip("]"): r for r in rows if r.metric == memory.HOST}


def test_rule_needs_both_the_tolerance_and_the_floor():
    change = memory.MemoryChange
    assert memory.verdict(change((20_000,), (20_000 + memory.FLOOR + 1,))) is Outcome.REGRESSED
    assert memory.verdict(change((20_000,), (20_000 + memory.FLOOR,))) is Outcome.NO_CHANGE
    big = 10_000_000  # 4 KB is nothing here: the relative tolerance decides
    assert memory.verdict(change((big,), (int(big * (1 + memory.TOLERANCE)) + 1,))
                          ) is Outcome.REGRESSED
    assert memory.verdict(change((big,), (big + 50_000,))) is Outcome.NO_CHANGE
    assert memory.verdict(change((50_000,), (20_000,))) is Outcome.IMPROVED
    # Every candidate process beyond every base process: overlapping sides are no change.
    assert memory.verdict(change((20_000, 40_000), (30_000, 60_000))) is Outcome.NO_CHANGE


def test_memory_rows_sit_beside_time_rows_and_set_the_exit_status():
    base = [side({"einsum-rows500": 26_000, "builtin-rows500": 21_000}, 0)]
    grown = [side({"einsum-rows500": 26_000 + 1_568_000, "builtin-rows500": 21_050}, 1)]
    rows = gate.compare(base, grown)
    assert [r.metric for r in rows] == ["time", "memory"] * 2
    found = memory_rows(rows)
    assert found["einsum-rows500"].outcome is Outcome.REGRESSED
    assert found["builtin-rows500"].outcome is Outcome.NO_CHANGE
    assert gate.exit_code(rows) == 1
    same = gate.compare(base, [side({"einsum-rows500": 26_000, "builtin-rows500": 21_000}, 1)])
    assert gate.exit_code(same) == 2  # time undecided from one process a side
    assert gate.undecided_metrics(same, gate.Settings()) == ["time"]
    memory_only = gate.Settings(metrics=(memory.HOST,))
    assert gate.exit_code(gate.compare(base, grown, memory_only), memory_only) == 1
    assert gate.exit_code(gate.compare(base, base, memory_only), memory_only) == 0


def test_runs_without_memory_are_gated_on_time_alone():
    several = [parse(make_run(SUITE, seed=s), f"block-{s:03d}.json") for s in range(4)]
    rows = gate.compare(several, several)
    assert {r.metric for r in rows} == {"time"} and gate.exit_code(rows) == 0
    memory_only = gate.Settings(metrics=(memory.HOST,))
    assert gate.exit_code(gate.compare(several, several, memory_only), memory_only) == 2


def test_memory_on_one_side_only_is_incomparable():
    rows = gate.compare([side({"einsum-rows500": 26_000}, 0)], [side({}, 1)])
    einsum = memory_rows(rows)["einsum-rows500"]
    assert einsum.outcome is Outcome.INCOMPARABLE and "one side only" in einsum.note
    assert gate.exit_code(rows) == 2


def test_memory_is_judged_from_the_processes_that_measured_it():
    # bench ab measures memory in its first blocks only: the later ones have none.
    def blocks(peak: int, first: int):
        return [side({"einsum-rows500": peak} if i < 3 else {}, first + i) for i in range(6)]

    rows = memory_rows(gate.compare(blocks(26_000, 0), blocks(26_000 + 1_568_000, 10)))
    assert rows["einsum-rows500"].outcome is Outcome.REGRESSED
    assert rows["einsum-rows500"].memory.processes == (3, 3)


@pytest.mark.spawns
@pytest.mark.mnist
def test_without_memray_the_suite_runs_and_records_no_memory(tmp_path, mnist_dir):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "memray.py").write_text('raise ImportError("memray blocked by this test")\n')
    out = tmp_path / "run.json"
    env = command.environment(gate_ready=True, mnist_dir=mnist_dir)
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_")}
    cmd = command.pytest_command(f"--benchmark-json={out}", "--benchmark-max-time=0.002",
                                 "-k", "test_matmul and builtin-rows5]", gate_ready=True)
    done = subprocess.run(cmd, cwd=ROOT, env={**env, "PYTHONPATH": f"{blocked}{os.pathsep}{ROOT}"},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = parse(json.loads(out.read_text()), out)
    assert [b.memory for b in saved.benchmarks.values()] == [None]
    if hasattr(os, "sched_setaffinity"):  # a gate-ready run is bound to one CPU (bench.suite.pinning)
        assert [b.environment.pinned_cpu is not None for b in saved.benchmarks.values()] == [True]
    if compiled.numba is not None and sys.platform.startswith("linux"):
        # ... and torch shares numba's OpenMP runtime, the plugin having loaded matmul first
        assert [b.environment.openmp_runtimes for b in saved.benchmarks.values()] == [1]
    # ... and times its rounds in passes over the run (bench.suite.passes)
    passes = command.GATE_READY_PASSES
    assert f"1 benchmarks timed in {passes} passes each" in done.stdout
    (timed,) = saved.benchmarks.values()
    assert len(timed.samples) == len(timed.reference)
    # ... and with the address-space layout fixed, where Linux allows it (bench.suite.command)
    if aslr.can_be_turned_off():
        assert timed.environment.layout_fixed is True
    else:  # refused (False), or not Linux (None)
        assert timed.environment.layout_fixed in (False, None)
    # ... and times the alternative references of other kinds in the same rounds (bench.suite.cases)
    kinds = {cases.GEMM} | ({cases.FMA, cases.FMA_AGAIN} if compiled.numba is not None else set())
    assert set(timed.alternatives) == kinds
    assert all(len(times) == len(timed.samples) for times in timed.alternatives.values())
    assert (len(timed.samples) + timed.dropped) % passes == 0
