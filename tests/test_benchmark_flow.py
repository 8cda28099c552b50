"""The stock pytest-benchmark flow on our suite, end to end: autosave with raw
data, compare two saved runs, JSON export, histogram, and --benchmark-compare-fail
tripped by an artificially slowed kernel. Runs pytest in-process (pytester), so
torch, the kernels and MNIST are not loaded again."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# Imported here, not first inside the in-process run: pytester drops the modules
# an inner run imported, and dropping pygal's left importlib.metadata finding
# no distributions, so later in-process runs lost their entry-point plugins.
pytest.importorskip("pygal", reason="--benchmark-histogram needs pytest-benchmark[histogram]")

SUITE = Path(__file__).resolve().parent / "benchmarks" / "test_matmul_benchmarks.py"
SUBSET = "einsum-rows5] or builtin-rows5]"


@pytest.fixture
def run_suite(pytester, mnist_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    storage = pytester.path / "storage"

    def run(*args: str, slowdown: str = ""):
        monkeypatch.setenv("MATMUL_BENCH_SLOWDOWN", slowdown)
        return pytester.runpytest_inprocess(
            str(SUITE), "-k", SUBSET, "-p", "no:cacheprovider", "--benchmark-enable",
            "--benchmark-max-time=0.05", f"--benchmark-storage=file://{storage}", *args)

    run.storage = storage
    return run


def test_autosave_compare_json_histogram_and_compare_fail(run_suite, tmp_path):
    first = run_suite("--benchmark-autosave", "--benchmark-save-data")
    first.assert_outcomes(passed=2)
    saved = list(run_suite.storage.glob("*/0001_*.json"))
    assert len(saved) == 1
    kept = json.loads(saved[0].read_text())["benchmarks"]
    assert {b["extra_info"]["kernel"] for b in kept} == {"einsum", "builtin"}
    assert all(len(b["stats"]["data"]) == len(b["extra_info"]["reference_data"]) for b in kept)

    # The second run compares with the first (and fails on the slowed kernel),
    # exports JSON and draws the histogram, all in one go to keep this test short.
    exported, histogram = tmp_path / "run.json", tmp_path / "hist"
    second = run_suite("--benchmark-compare=0001", "--benchmark-compare-fail=min:200%",
                       f"--benchmark-json={exported}", f"--benchmark-histogram={histogram}",
                       slowdown="einsum=50")
    output = second.stdout.str() + second.stderr.str()
    assert second.ret != 0, output
    assert "0001" in output  # the saved run is listed beside the new one
    assert "Performance has regressed" in output
    regressed = output.split("Performance has regressed", 1)[1]
    assert "einsum-rows5" in regressed and "builtin-rows5" not in regressed
    assert len(json.loads(exported.read_text())["benchmarks"]) == 2
    assert list(tmp_path.glob("hist*.svg"))
