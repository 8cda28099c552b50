"""The stock pytest-benchmark flow on our suite, end to end in subprocesses:
autosave with raw data, compare two saved runs, JSON export, histogram, and
--benchmark-compare-fail tripped by an artificially slowed kernel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBSET = "einsum-rows5] or builtin-rows5]"


def run_suite(storage: Path, *args: str, slowdown: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "MATMUL_BENCH_SLOWDOWN": slowdown}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/benchmarks/test_matmul_benchmarks.py",
         "-k", SUBSET, "-p", "no:cacheprovider", "-q", "--benchmark-enable",
         "--benchmark-max-time=0.05", f"--benchmark-storage=file://{storage}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_autosave_compare_json_histogram_and_compare_fail(mnist_dir, tmp_path):
    storage = tmp_path / "storage"
    first = run_suite(storage, "--benchmark-autosave", "--benchmark-save-data")
    assert first.returncode == 0, first.stdout + first.stderr
    saved = list(storage.glob("*/0001_*.json"))
    assert len(saved) == 1
    kept = json.loads(saved[0].read_text())["benchmarks"]
    assert {b["extra_info"]["kernel"] for b in kept} == {"einsum", "builtin"}
    assert all(len(b["stats"]["data"]) == len(b["extra_info"]["reference_data"]) for b in kept)

    # The second run compares with the first (and fails on the slowed kernel),
    # exports JSON and draws the histogram, all in one go to keep this test short.
    exported, histogram = tmp_path / "run.json", tmp_path / "hist"
    second = run_suite(storage, "--benchmark-compare=0001", "--benchmark-compare-fail=min:100%",
                       f"--benchmark-json={exported}", f"--benchmark-histogram={histogram}",
                       slowdown="einsum=4")
    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    assert "0001" in second.stdout  # the saved run is listed beside the new one
    assert "Performance has regressed" in output
    regressed = output.split("Performance has regressed", 1)[1]
    assert "einsum-rows5" in regressed and "builtin-rows5" not in regressed
    assert len(json.loads(exported.read_text())["benchmarks"]) == 2
    assert list(tmp_path.glob("hist*.svg"))
