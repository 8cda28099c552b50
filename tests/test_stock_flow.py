"""README's stock pytest-benchmark commands, run as a user types them.

Each command of README's stock-flow block runs as a subprocess in a scratch
copy of the project, on a small subset (SUBSET, with a short max time), and
must produce what README says: saved runs with raw samples, a comparison that
names the saved run, compare-fail's non-zero exit on an injected slowdown and
zero without one, the JSON export, the histogram, the listing, and the gate
finding runs by id.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_machine_id

from bench.tree import snapshot

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ["-k", "rows5] and (einsum or builtin)", "--benchmark-max-time=0.05"]
BLOCK = re.compile(r"<!-- stock flow.*?-->\s*```bash\n(.*?)```", re.S)


def readme_commands() -> list[str]:
    """The stock-flow block of README.md, one command a line, comments dropped."""
    match = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no stock-flow block (<!-- stock flow ... --> then ```bash)"
    return [line.split("  #")[0].strip() for line in match.group(1).splitlines() if line.strip()]


@pytest.fixture
def project(tmp_path, mnist_dir):
    copy = snapshot(ROOT, tmp_path / "project")  # tracked and untracked files, no saved runs
    # A clean environment: no xdist worker markers (pytest-benchmark would turn
    # timing off), no injected slowdown, one thread (a second one makes 5-row
    # calls wait for a core whenever the other core is busy, which swings the
    # compare-fail check).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "MATMUL_BENCH_")) and k != "PYTHONDONTWRITEBYTECODE"}
    # Speed only: at exit hypothesis's plugin imports hypothesis whole, more
    # than half a second per process; these commands never use it. (And the
    # copy's bytecode is cached: each command reuses it.)
    addopts = "-p no:hypothesispytest"
    env.update(MNIST_DIR=str(mnist_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTEST_ADDOPTS=addopts)

    def run(command: str, **extra_env: str) -> subprocess.CompletedProcess:
        words = shlex.split(command)
        program = {"pytest": [sys.executable, "-m", "pytest"],
                   "pytest-benchmark": [sys.executable, "-m", "pytest_benchmark"],
                   "python": [sys.executable]}[words[0]]
        args = program + words[1:] + (SUBSET if words[0] == "pytest" else [])
        return subprocess.run(args, cwd=copy, env={**env, **extra_env}, capture_output=True,
                              text=True, timeout=300, check=False)

    run.path, run.addopts = copy, addopts
    return run


def saved(project) -> list[Path]:
    return sorted((project.path / ".benchmarks" / get_machine_id()).glob("*.json"))


@pytest.mark.spawns
def test_readme_stock_flow_commands_do_what_they_say(project):
    commands = readme_commands()
    assert [c.split()[0] for c in commands] == (
        ["pytest"] * 3 + ["pytest-benchmark", "pytest-benchmark", "python"]), commands
    save, save_compare_fail, only_json_histogram, listing, side_by_side, gate = commands

    # 0001: timed and saved, as pytest-benchmark numbers runs, raw samples kept.
    done = project(save)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name[:4] for p in saved(project)] == ["0001"]
    kept = json.loads(saved(project)[0].read_text())["benchmarks"]
    assert {b["extra_info"]["kernel"] for b in kept} == {"einsum", "builtin"}
    assert all(len(b["stats"]["data"]) == len(b["extra_info"]["reference_data"]) > 0 for b in kept)

    # 0002: compared with 0001 (named in the table) and saved. Unchanged code
    # may still trip the stock threshold on a busy machine (one process a side
    # cannot tell noise from a change: README says so), so the exit status is
    # checked only to be pass or the stock "regressed" verdict, never a crash.
    done = project(save_compare_fail)
    output = done.stdout + done.stderr
    assert done.returncode == 0 or "Performance has regressed" in output, output
    assert "Comparing against benchmarks from" in output and "(0001_" in output, output
    assert [p.name[:4] for p in saved(project)] == ["0001", "0002"]

    # The same command on an injected slowdown fails (and saves 0003), while the
    # export and the histogram run beside it, for a user whose options ask for
    # xdist workers: timing asked for, it runs without them and says so.
    with ThreadPoolExecutor(max_workers=2) as pool:
        slowed = pool.submit(project, save_compare_fail, MATMUL_BENCH_SLOWDOWN="einsum=1.0")
        exported = pool.submit(project, only_json_histogram,
                               PYTEST_ADDOPTS=f"{project.addopts} -n 2")
        slowed, exported = slowed.result(), exported.result()
    # A real +100 % is far past any noise: that run must fail, naming einsum.
    output = slowed.stdout + slowed.stderr
    assert slowed.returncode != 0, output
    assert "Performance has regressed" in output, output
    assert "einsum-rows5" in output.split("Performance has regressed", 1)[1], output

    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert "running without xdist workers" in exported.stdout + exported.stderr
    benchmarks = json.loads((project.path / "run.json").read_text())["benchmarks"]
    assert {b["name"].split("[")[0] for b in benchmarks} == {"test_matmul", "test_forward"}
    assert all(b["stats"]["data"] for b in benchmarks)
    assert list(project.path.glob("hist*.svg"))

    with ThreadPoolExecutor(max_workers=3) as pool:
        listed, compared, gated = (f.result() for f in [
            pool.submit(project, listing), pool.submit(project, side_by_side),
            pool.submit(project, gate)])
    assert listed.returncode == 0, listed.stderr
    assert all(p.name in listed.stdout for p in saved(project)) and len(saved(project)) == 3
    assert compared.returncode == 0, compared.stderr
    assert "0001_" in compared.stdout and "0002_" in compared.stdout
    # The gate finds both runs by id; one run a side shows no noise between
    # processes, so it judges nothing and says so (exit 2).
    output = gated.stdout + gated.stderr
    assert gated.returncode == 2, output
    assert "one process per side" in output and "einsum-rows5" in output
