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
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_machine_id

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ["-k", "rows5] and (einsum or builtin)", "--benchmark-max-time=0.05"]
BLOCK = re.compile(r"<!-- stock flow.*?-->\s*```bash\n(.*?)```", re.S)


def readme_commands() -> list[str]:
    """The stock-flow block of README.md, one command a line, comments dropped."""
    match = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no stock-flow block (<!-- stock flow ... --> then ```bash)"
    return [line.split("  #")[0].strip() for line in match.group(1).splitlines() if line.strip()]


def scratch_copy(target: Path) -> Path:
    """The project's files (tracked and untracked, not ignored): no saved runs, no caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture
def project(tmp_path, mnist_dir):
    copy = scratch_copy(tmp_path / "project")
    # A clean environment: no xdist worker markers (pytest-benchmark would turn
    # timing off), no injected slowdown, one thread (a second one makes 5-row
    # calls wait for a core whenever the other core is busy, which swings the
    # compare-fail check).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "MATMUL_BENCH_")) and k != "COV_CORE_SOURCE"}
    env.update(MNIST_DIR=str(mnist_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def run(command: str, **extra_env: str) -> subprocess.CompletedProcess:
        words = shlex.split(command)
        program = {"pytest": [sys.executable, "-m", "pytest"],
                   "pytest-benchmark": [sys.executable, "-m", "pytest_benchmark"],
                   "python": [sys.executable]}[words[0]]
        args = program + words[1:] + (SUBSET if words[0] == "pytest" else [])
        return subprocess.run(args, cwd=copy, env={**env, **extra_env}, capture_output=True,
                              text=True, timeout=300, check=False)

    run.path = copy
    return run


def saved(project) -> list[Path]:
    return sorted((project.path / ".benchmarks" / get_machine_id()).glob("*.json"))


def test_readme_stock_flow_commands_do_what_they_say(project):
    commands = readme_commands()
    assert [c.split()[0] for c in commands] == (
        ["pytest"] * 6 + ["pytest-benchmark", "pytest-benchmark", "python"]), commands
    save, save_again, compare, compare_fail, only_json, histogram, listing, side_by_side, gate = (
        commands)

    # Saving: two runs, numbered as pytest-benchmark numbers them, raw samples kept.
    for number, command in ((1, save), (2, save_again)):
        done = project(command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert [p.name[:4] for p in saved(project)] == [f"{n:04d}" for n in range(1, number + 1)]
    kept = json.loads(saved(project)[0].read_text())["benchmarks"]
    assert {b["extra_info"]["kernel"] for b in kept} == {"einsum", "builtin"}
    assert all(len(b["stats"]["data"]) == len(b["extra_info"]["reference_data"]) > 0 for b in kept)

    # The rest only read the saved runs: run them side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {name: pool.submit(project, command, **env) for name, command, env in [
            ("compare", compare, {}),
            ("fail_quiet", compare_fail, {}),
            ("fail_slow", compare_fail, {"MATMUL_BENCH_SLOWDOWN": "einsum=1.0"}),
            ("only_json", only_json, {}),
            ("histogram", histogram, {}),
            ("listing", listing, {}),
            ("side_by_side", side_by_side, {}),
            ("gate", gate, {}),
        ]}
        done = {name: job.result() for name, job in jobs.items()}
    output = {name: d.stdout + d.stderr for name, d in done.items()}

    assert done["compare"].returncode == 0, output["compare"]
    assert "Comparing against benchmarks from" in output["compare"]
    assert "(0002_" in output["compare"] and "(NOW)" in output["compare"]
    assert len(saved(project)) == 2  # comparing saves nothing

    assert done["fail_quiet"].returncode == 0, output["fail_quiet"]
    assert done["fail_slow"].returncode != 0, output["fail_slow"]
    regressed = output["fail_slow"].split("Performance has regressed", 1)[1]
    assert "einsum-rows5" in regressed and "builtin-rows5" not in regressed

    assert done["only_json"].returncode == 0, output["only_json"]
    exported = json.loads((project.path / "run.json").read_text())["benchmarks"]
    assert {b["name"].split("[")[0] for b in exported} == {"test_matmul", "test_forward"}
    assert all(b["stats"]["data"] for b in exported)

    assert done["histogram"].returncode == 0, output["histogram"]
    assert list(project.path.glob("hist*.svg"))

    assert done["listing"].returncode == 0, output["listing"]
    assert all(p.name in output["listing"] for p in saved(project))

    assert done["side_by_side"].returncode == 0, output["side_by_side"]
    assert "0001_" in output["side_by_side"] and "0002_" in output["side_by_side"]

    # The gate finds both runs by id; one run a side shows no noise between
    # processes, so it judges nothing and says so (exit 2).
    assert done["gate"].returncode == 2, output["gate"]
    assert "one process per side" in output["gate"] and "einsum-rows5" in output["gate"]
