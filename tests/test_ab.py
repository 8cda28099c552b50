"""python -m bench ab's orchestration: worktrees of both revisions, blocks in a
recorded random order, looks of the sequential rule with blocks of their own
for undecided benchmarks, the verdict files, and nothing left behind. The benchmark processes themselves are
replaced by synthetic runs (tests/synthetic_runs.py): a real A/B run takes
minutes (README, "Regression gate", shows one)."""
from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import fake_ab
from bench.gate import ab, rounds
from synthetic_runs import MODULE, make_run

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with two commits; each marks its speed in speed.txt."""
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", cwd=root)
    git("config", "user.email", "t@example.com", cwd=root)
    git("config", "user.name", "t", cwd=root)
    (root / "speed.txt").write_text("1.0")
    git("add", ".", cwd=root)
    git("commit", "-qm", "fast", cwd=root)
    (root / "speed.txt").write_text("1.25")
    git("commit", "-qam", "slow einsum", cwd=root)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def fake_measure(monkeypatch):
    """Synthetic runs instead of benchmark processes: einsum's factor is read from
    the tree's speed.txt, so each side's code decides its speed."""
    calls = []
    memory_asked.clear()

    def measure(tree, out, targets, subset, max_time, max_times=None, memory=True):
        memory_asked[out.name] = memory
        factor = float((tree.path / "speed.txt").read_text())
        seed = len(calls)
        names = [t.rpartition("[")[2].rstrip("]") for t in targets] or list(SUITE)
        document = make_run({n: SUITE[n] for n in names}, seed=seed,
                            factors={"einsum-rows500": factor})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document))
        calls.append((tree.path.name, out.name, tuple(targets), factor,
                      max_times and json.loads(max_times.read_text())))
        return out

    monkeypatch.setattr(ab, "measure", measure)
    return calls


memory_asked: dict[str, bool] = {}  # block file name -> whether fake_measure was asked for memory


def test_regression_between_two_revisions(repo, fake_measure, tmp_path, capsys):
    out = tmp_path / "ab"
    code = ab.main(["HEAD~1", "HEAD", "--processes", "6", "--seed", "3", "--out", str(out)])
    assert code == 1, capsys.readouterr().out
    verdicts = {b["benchmark"]: b["verdict"] for b in json.loads((out / "gate.json").read_text())["benchmarks"]}
    assert verdicts[MODULE + "test_matmul[einsum-rows500]"] == "regressed"
    assert verdicts[MODULE + "test_matmul[broadcast-rows5]"] == "no change"
    assert "REGRESSED" in (out / "gate.md").read_text()
    manifest = json.loads((out / "ab.json").read_text())
    assert manifest["seed"] == 3 and len(manifest["blocks"]) >= 6
    orders = [tuple(b["order"]) for b in manifest["blocks"]]
    assert set(orders) == {("base", "candidate"), ("candidate", "base")}  # both orders occur
    # Each side ran from its own worktree of its own revision, their paths of one length...
    assert {(side, factor) for side, _, _, factor, _ in fake_measure} == {("base", 1.0),
                                                                      (ab.CANDIDATE_TREE, 1.25)}
    assert len(ab.CANDIDATE_TREE) == len("base")
    # ... and both worktrees are gone.
    assert git("worktree", "list", cwd=repo).count("\n") == 0


def test_the_working_tree_is_the_default_candidate(repo, fake_measure, tmp_path):
    (repo / "speed.txt").write_text("1.0")  # uncommitted: back to fast
    out = tmp_path / "ab"
    assert ab.main(["HEAD", "--processes", "4", "--seed", "1", "--out", str(out)]) == 0
    assert {factor for _, _, _, factor, _ in fake_measure} == {1.25, 1.0}
    assert "working tree" in json.loads((out / "ab.json").read_text())["candidate"]["label"]


def test_undecided_benchmarks_get_blocks_of_their_own_until_the_last_look(repo, fake_measure,
                                                                           tmp_path):
    (repo / "speed.txt").write_text("1.06")  # just past the threshold: the interval straddles it
    out = tmp_path / "ab"
    ab.main(["HEAD~1", "--min-processes", "4", "--max-processes", "12", "--seed", "5",
             "--out", str(out)])
    manifest = json.loads((out / "ab.json").read_text())
    assert manifest["schedule"] == [4, 5, 7, 9, 12]
    assert math.isclose(sum(manifest["look_alpha"]), 0.05)
    blocks = manifest["blocks"]
    later = [b for b in blocks if b["targets"] != "subset"]
    assert [b["block"] for b in blocks if b["targets"] == "subset"] == [1, 2, 3, 4]
    assert later, "no block was run for the undecided benchmark"
    # Each look gives the next blocks to the benchmarks still undecided, only them.
    assert all(set(b["targets"]) >= set(c["targets"]) for b, c in zip(later, later[1:]))
    assert later[-1]["targets"] == [MODULE + "test_matmul[einsum-rows500]"]
    assert len(blocks) in manifest["schedule"]
    # Memory, the same in every process, is measured in the first blocks only.
    assert {int(name[6:9]) for name, asked in memory_asked.items() if asked} == \
        set(range(1, rounds.BUDGET_AFTER + 1))
    gate = json.loads((out / "gate.json").read_text())
    assert gate["sequential"]["blocks"] == len(blocks)
    assert gate["sequential"]["looks"][0] == {"look": 1, "blocks": 4,
                                              "alpha": manifest["look_alpha"][0]}
    by_name = {b["benchmark"]: b for b in gate["benchmarks"]}
    einsum = by_name[MODULE + "test_matmul[einsum-rows500]"]
    assert einsum["processes"][0] == len(blocks)
    assert einsum["look"] == gate["sequential"]["stopped_at_look"] > 1
    assert "look" in (out / "gate.md").read_text()


def test_a_clear_comparison_stops_at_an_early_look(repo, fake_measure, tmp_path, capsys):
    out = tmp_path / "ab"
    assert ab.main(["HEAD~1", "HEAD", "--min-processes", "6", "--max-processes", "24",
                    "--seed", "2", "--out", str(out)]) == 1
    manifest = json.loads((out / "ab.json").read_text())
    gate = json.loads((out / "gate.json").read_text())
    assert len(manifest["blocks"]) < 24 and manifest["stopped_at_look"] < 5
    by_name = {b["benchmark"]: b for b in gate["benchmarks"]}
    einsum = by_name[MODULE + "test_matmul[einsum-rows500]"]
    assert (einsum["verdict"], einsum["look"], einsum["processes"]) == ("regressed", 1, [6, 6])
    assert by_name[MODULE + "test_matmul[broadcast-rows5]"]["verdict"] == "no change"
    assert "every benchmark decided by look" in capsys.readouterr().out


def test_refuses_too_few_processes_and_a_used_folder(repo, fake_measure, tmp_path, capsys):
    assert ab.main(["HEAD", "--processes", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert ab.main(["HEAD", "--min-processes", "1"]) == 2
    assert "--min-processes must be at least 2" in capsys.readouterr().err
    assert ab.main(["HEAD", "--min-processes", "8", "--max-processes", "6"]) == 2
    err = capsys.readouterr().err
    assert "--max-processes (6) must be at least --min-processes (8)" in err
    assert len(err.strip().splitlines()) == 1
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("")
    assert ab.main(["HEAD", "--out", str(used)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert ab.main(["no-such-revision", "--out", str(tmp_path / "new")]) == 2
    assert "no-such-revision" in capsys.readouterr().err
    assert fake_measure == []


# ---------------------------------------------------------------- faults

FAKE_AB = Path(__file__).resolve().parent / "fake_ab.py"


def blocks_done(out: Path) -> int:
    try:
        return len(json.loads((out / "ab.json").read_text())["blocks"])
    except (OSError, ValueError):
        return 0


@pytest.mark.spawns
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_two_blocks_leaves_nothing_behind_and_the_rerun_resumes(
        repo, tmp_path, monkeypatch, capsys, signum):
    out, scratch = tmp_path / "ab", tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(FAKE_AB.parents[1])}
    command = [sys.executable, str(FAKE_AB), "HEAD~1", "HEAD", "--processes", "6", "--seed", "3",
               "--out", str(out)]
    child = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while blocks_done(out) < 2:
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.02)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"interrupted ({signal.Signals(signum).name})" in err and "resumes" in err
    assert git("worktree", "list", cwd=repo).count("\n") == 0  # only the checkout itself
    assert list(scratch.iterdir()) == []                         # no temporary tree
    kept = json.loads((out / "ab.json").read_text())["blocks"]
    assert 2 <= len(kept) < 6

    # The rerun (here, in this process, with the same synthetic processes).
    monkeypatch.setattr(ab, "measure", fake_ab.measure)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("FAKE_PROCESS_SECONDS", "0")
    args = command[2:]
    assert ab.main(args) == 1  # HEAD's einsum is 25 % slower
    stdout = capsys.readouterr().out
    assert f"resuming the interrupted run in {out}: {len(kept)} finished block(s) kept, seed 3" \
        in stdout
    assert stdout.count("kept from the interrupted run") == len(kept)
    manifest = json.loads((out / "ab.json").read_text())
    rng = random.Random(3)  # the same seed gives the same order as an uninterrupted run
    assert [b["order"] for b in manifest["blocks"]] == [rng.sample(ab.SIDES, 2) for _ in range(6)]
    assert manifest["blocks"][:len(kept)] == kept
    assert (out / "gate.md").is_file() and list(scratch.iterdir()) == []
    # A finished run is refused as before.
    assert ab.main(args) == 2
    assert "holds a finished run" in capsys.readouterr().err


def test_an_interrupted_run_of_other_settings_is_not_resumed(repo, fake_measure, tmp_path, capsys):
    out = tmp_path / "ab"
    out.mkdir()
    (out / "ab.json").write_text(json.dumps({"seed": 3, "subset": "other", "blocks": []}))
    assert ab.main(["HEAD~1", "HEAD", "--processes", "4", "--seed", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "interrupted run of other settings" in err and "subset" in err and "schedule" in err
    assert fake_measure == []


def test_a_crashed_block_runs_once_more_then_is_set_aside(repo, fake_measure, monkeypatch,
                                                          tmp_path, capsys):
    """Block 2's first process crashes (rerun, fine); block 3 saves an empty run twice."""
    real = ab.measure
    failures = {"block-002.json": 1, "block-003.json": 2}

    def flaky(tree, out, targets, subset, max_time, **options):
        if failures.get(out.name, 0) > 0 and tree.path.name == "base":
            failures[out.name] -= 1
            if out.name == "block-002.json":
                raise ab.MeasureError("benchmark process in base failed (-11):\nSegmentation fault")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("")
            return out
        return real(tree, out, targets, subset, max_time, **options)

    monkeypatch.setattr(ab, "measure", flaky)
    out = tmp_path / "ab"
    code = ab.main(["HEAD~1", "HEAD", "--processes", "6", "--seed", "1", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    assert "block 2: benchmark process in base failed (-11):; running it once more" in stdout
    assert "block 3 set aside: it failed twice" in stdout
    manifest = json.loads((out / "ab.json").read_text())
    assert [b["block"] for b in manifest["blocks"]] == [1, 2, 4, 5, 6]
    assert [b["block"] for b in manifest["set_aside"]] == [3]
    assert "not a readable JSON file" in manifest["set_aside"][0]["error"]
    assert (out / "set-aside" / "block-003.log").is_file()
    assert not (out / "base" / "block-003.json").exists()
    gate_md = (out / "gate.md").read_text()
    assert "5 blocks" in gate_md and "1 block(s) set aside" in gate_md


def test_processes_that_always_fail_stop_the_run(repo, monkeypatch, tmp_path, capsys):
    def broken(tree, out, targets, subset, max_time, **options):
        raise ab.MeasureError("benchmark process failed (1):\nImportError: no module named x")

    monkeypatch.setattr(ab, "measure", broken)
    assert ab.main(["HEAD", "--processes", "6", "--out", str(tmp_path / "ab")]) == 2
    err = capsys.readouterr().err
    assert "every block so far failed twice" in err and len(err.strip().splitlines()) == 1
    assert "ImportError" in (tmp_path / "ab" / "set-aside" / "block-002.log").read_text()
    assert git("worktree", "list", cwd=repo).count("\n") == 0


def test_an_unwritable_out_is_refused_at_once(repo, fake_measure, tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert ab.main(["HEAD", "--out", str(blocked / "ab")]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert fake_measure == []


def test_a_wrong_mnist_dir_is_refused_before_any_process(repo, fake_measure, tmp_path, monkeypatch,
                                                         capsys):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    assert ab.main(["HEAD", "--out", str(tmp_path / "ab")]) == 2
    assert "MNIST_DIR=" in capsys.readouterr().err and fake_measure == []


def test_later_blocks_run_with_the_times_the_first_blocks_chose(repo, fake_measure, tmp_path,
                                                                 capsys):
    # Both revisions' suites name the option, as this project's do (bench.suite.command).
    (repo / "bench" / "suite").mkdir(parents=True)
    (repo / "bench" / "suite" / "command.py").write_text('MAX_TIMES_OPTION = "--bench-max-times"\n')
    git("add", ".", cwd=repo)
    git("commit", "-qm", "a suite that takes per-benchmark times", cwd=repo)
    (repo / "speed.txt").write_text("1.06")  # undecided: later blocks are needed
    out = tmp_path / "ab"
    ab.main(["HEAD", "--min-processes", "4", "--max-processes", "8", "--seed", "5",
             "--max-time", "0.2", "--out", str(out)])
    given = [times for *_, times in fake_measure]
    after = 2 * ab.rounds.BUDGET_AFTER  # two processes a block
    assert given[:after] == [None] * after
    assert given[after:] and all(times == given[after] for times in given[after:])
    manifest = json.loads((out / "ab.json").read_text())
    assert manifest["max_times"] == given[after]
    assert set(given[after]) == {MODULE + f"test_matmul[{name}]" for name in SUITE}
    # The synthetic rounds (200 a process) vary far less than the processes do.
    assert all(0 < t < 0.2 for t in given[after].values())
    assert "rounds: from 3 blocks, 2 of 2 benchmarks need less" in capsys.readouterr().out


def test_a_suite_without_per_benchmark_times_keeps_max_time(repo, fake_measure, tmp_path, capsys):
    out = tmp_path / "ab"
    ab.main(["HEAD~1", "--min-processes", "4", "--max-processes", "8", "--seed", "5",
             "--out", str(out)])
    assert all(times is None for *_, times in fake_measure)
    assert "max_times" not in json.loads((out / "ab.json").read_text())
    assert "takes no per-benchmark times" in capsys.readouterr().out


@pytest.mark.parametrize("checkout_cache, kernels_differ, compiles", [
    (True, False, 0),   # both sides load the checkout's cache
    (False, False, 1),  # the first process compiles; the other side gets its cache
    (False, True, 2),   # kernels differ: each side compiles its own
])
def test_compiled_kernels_are_carried_only_between_the_same_kernels(
        repo, fake_measure, monkeypatch, tmp_path, capsys, checkout_cache, kernels_differ, compiles):
    (repo / ".gitignore").write_text("__pycache__/\n")
    (repo / "matmul").mkdir()
    (repo / "matmul" / "__init__.py").write_text("")
    (repo / "matmul" / "kernels.py").write_text("K = 1\n")
    git("add", ".", cwd=repo)
    git("commit", "-qm", "kernels", cwd=repo)
    if kernels_differ:
        (repo / "matmul" / "kernels.py").write_text("K = 2\n")
        git("commit", "-qam", "other kernels", cwd=repo)
    if checkout_cache:
        (repo / "matmul" / "__pycache__").mkdir()
        (repo / "matmul" / "__pycache__" / "kernels.f-1.py311.nbi").write_text("index")
        (repo / "matmul" / "__pycache__" / "kernels.f-1.py311.1.nbc").write_text("data")
    compiled = []
    measure = ab.measure

    def compiling_measure(tree, out, *args, **kwargs):
        cache = tree.path / "matmul" / "__pycache__"
        if not any(cache.glob("*.nbi")):  # as numba does: compile, then save the cache
            compiled.append(tree.path.name)
            cache.mkdir(exist_ok=True)
            (cache / "kernels.f-1.py311.1.nbc").write_text("data")
            (cache / "kernels.f-1.py311.nbi").write_text("index")
        return measure(tree, out, *args, **kwargs)

    monkeypatch.setattr(ab, "measure", compiling_measure)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    base = "HEAD~1" if kernels_differ else "HEAD"
    ab.main([base, "HEAD", "--processes", "4", "--seed", "1", "--out", str(tmp_path / "ab")])
    said = capsys.readouterr().out
    assert len(compiled) == compiles, said
    assert said.count("numba's compiled kernels carried from") == 2 - compiles
