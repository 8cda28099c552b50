"""bench.gate.rounds: each benchmark's time per process from the first blocks' spread."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench import runs
from bench.gate import calm, rounds
from bench.suite import command
from synthetic_runs import MODULE, make_run

ROOT = Path(__file__).resolve().parents[1]

DEFAULT = 0.2


def sides(process_sigma: float, blocks: int = 3, rounds_each: int = 200, names=("einsum-rows5",)):
    made = [[runs.parse(json.loads(json.dumps(make_run(
        dict.fromkeys(names, 30e-6), seed=2 * block + side, process_sigma=process_sigma,
        rounds=rounds_each))), f"{side}-{block}.json") for block in range(blocks)]
        for side in (0, 1)]
    return made[0], made[1]


def budget(process_sigma: float, **kwargs) -> float:
    return rounds.budgets(*sides(process_sigma, **kwargs), DEFAULT)[MODULE + "test_matmul[einsum-rows5]"]


FLOOR = rounds.MIN_ROUNDS / 200 * DEFAULT  # MIN_ROUNDS of the 200 rounds DEFAULT gave


def test_processes_that_differ_more_than_their_rounds_get_less_time():
    # A synthetic round's ratio to its reference varies by about 1.4 %, so 200
    # rounds pin a process's median to 0.1 %; processes 0.5 % apart need fewer.
    assert FLOOR * 1.5 < budget(0.005) < DEFAULT / 1.5


def test_the_fewest_rounds_bound_the_time():
    assert budget(0.05) == pytest.approx(FLOOR) == budget(0.5)


def test_where_rounds_are_what_limits_the_time_stays():
    assert budget(0.0) == DEFAULT


def test_a_benchmark_one_side_lacks_gets_no_time_of_its_own():
    base, _ = sides(0.05, names=("einsum-rows5", "broadcast-rows5"))
    _, candidate = sides(0.05)
    assert set(rounds.budgets(base, candidate, DEFAULT)) == {MODULE + "test_matmul[einsum-rows5]"}


@pytest.mark.spawns
@pytest.mark.mnist
def test_a_suite_process_times_each_benchmark_for_its_own_time(tmp_path, mnist_dir):
    builtin, einsum = (MODULE + f"test_matmul[{name}-rows5]" for name in ("builtin", "einsum"))
    times = tmp_path / "times.json"
    times.write_text(json.dumps({builtin: 0.002}))  # einsum keeps --benchmark-max-time
    out = tmp_path / "run.json"
    env = command.environment(gate_ready=True, mnist_dir=mnist_dir)
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_")}
    cmd = command.pytest_command(f"--benchmark-json={out}", "--benchmark-max-time=0.2",
                                 f"{command.MAX_TIMES_OPTION}={times}", "-k",
                                 "test_matmul and (builtin-rows5] or einsum-rows5])",
                                 gate_ready=True)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = runs.load(out).benchmarks
    # 100 times less time; the two calls take within a factor 3 of each other, and
    # the factor 4 asked leaves room for a loaded machine (a 20-fold contrast with
    # the same factor failed once beside the whole test suite).
    assert 4 * len(saved[builtin].samples) < len(saved[einsum].samples)


@pytest.mark.spawns
@pytest.mark.parametrize("content", ["[1, 2]", '{"x": -1}', "not json"])
def test_a_bad_times_file_is_one_line_naming_it(tmp_path, content):
    times = tmp_path / "times.json"
    times.write_text(content)
    cmd = command.pytest_command(f"{command.MAX_TIMES_OPTION}={times}", "--collect-only",
                                 gate_ready=False)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4  # pytest's usage error
    assert f"{command.MAX_TIMES_OPTION} {times}:" in done.stderr


def test_a_calm_mode_keeps_its_fewest_rounds_in_calm_rounds():
    # Processes that share their core for a random share of rounds (bench.gate.calm)
    # and differ by 5 % that no reference tracks: the calm mode is chosen, its
    # rounds pin a process's value far better than the processes agree, so the
    # floor decides, and it counts only the rounds the calm mode keeps.
    rng = np.random.default_rng(1)
    made = [[runs.parse(json.loads(json.dumps(make_run(
        {"einsum-rows5": 30e-6}, seed=2 * block + side, process_sigma=0.002, shared=1.4,
        tracking="fma", factors={"einsum-rows5": float(rng.lognormal(0, 0.05))}))),
        f"{side}-{block}.json") for block in range(4)] for side in (0, 1)]
    key = MODULE + "test_matmul[einsum-rows5]"
    benches = [r.benchmarks[key] for side in made for r in side]
    mode = rounds.choose("auto", *([r.benchmarks[key] for r in side] for side in made), None,
                         rounds.STATISTICS[rounds.DEFAULT], 0.025)
    assert calm.split(mode)[1], mode
    levels = calm.levels(benches)
    kept = sum(len(calm.samples(b, mode, levels)) for b in benches) / sum(len(b.samples) for b in benches)
    assert kept < 0.8
    assert rounds.budgets(*made, DEFAULT)[key] == pytest.approx(rounds.MIN_ROUNDS / kept * DEFAULT / 200)
