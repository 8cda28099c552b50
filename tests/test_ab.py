"""python -m bench ab's orchestration: worktrees of both revisions, blocks in a
recorded random order, confirming blocks for straddling benchmarks, the
verdict files, and nothing left behind. The benchmark processes themselves are
replaced by synthetic runs (tests/synthetic_runs.py): a real A/B run takes
minutes (README, "Regression gate", shows one)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.gate import ab
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

    def measure(tree, out, targets, subset, max_time):
        factor = float((tree.path / "speed.txt").read_text())
        seed = len(calls)
        names = [t.rpartition("[")[2].rstrip("]") for t in targets] or list(SUITE)
        document = make_run({n: SUITE[n] for n in names}, seed=seed,
                            factors={"einsum-rows500": factor})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document))
        calls.append((tree.path.name, out.name, tuple(targets), factor))
        return out

    monkeypatch.setattr(ab, "measure", measure)
    return calls


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
    # Each side ran from its own worktree of its own revision...
    assert {(side, factor) for side, _, _, factor in fake_measure} == {("base", 1.0),
                                                                      ("candidate", 1.25)}
    # ... and both worktrees are gone.
    assert git("worktree", "list", cwd=repo).count("\n") == 0


def test_the_working_tree_is_the_default_candidate(repo, fake_measure, tmp_path):
    (repo / "speed.txt").write_text("1.0")  # uncommitted: back to fast
    out = tmp_path / "ab"
    assert ab.main(["HEAD", "--processes", "4", "--seed", "1", "--out", str(out)]) == 0
    assert {factor for _, _, _, factor in fake_measure} == {1.25, 1.0}
    assert "working tree" in json.loads((out / "ab.json").read_text())["candidate"]["label"]


def test_straddling_benchmarks_get_confirming_blocks_of_their_own(repo, fake_measure, tmp_path):
    (repo / "speed.txt").write_text("1.06")  # just past the threshold: the interval straddles it
    out = tmp_path / "ab"
    ab.main(["HEAD~1", "--processes", "4", "--seed", "5", "--confirm", "8", "--out", str(out)])
    blocks = json.loads((out / "ab.json").read_text())["blocks"]
    confirming = [b for b in blocks if b["targets"] != "subset"]
    assert confirming, "no confirming block was run"
    assert all(b["targets"] == [MODULE + "test_matmul[einsum-rows500]"] for b in confirming)
    assert len(blocks) <= 4 + 8


def test_refuses_too_few_processes_and_a_used_folder(repo, fake_measure, tmp_path, capsys):
    assert ab.main(["HEAD", "--processes", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("")
    assert ab.main(["HEAD", "--out", str(used)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert ab.main(["no-such-revision", "--out", str(tmp_path / "new")]) == 2
    assert "no-such-revision" in capsys.readouterr().err
    assert fake_measure == []
