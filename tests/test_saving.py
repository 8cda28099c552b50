"""Saved runs are whole or absent: written under a temporary name, partial runs
marked, unwritable storage refused before the suite runs, and broken files in
storage skipped with a warning (fatal only when named)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_machine_id

from bench import runs, storage
from bench.history.__main__ import main as history_main
from bench.report.__main__ import main as report_main
from synthetic_runs import make_run

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

INNER = """
    import os, time
    import pytest
    from bench.runs import Workload
    from bench.suite.cases import Reference

    WORK = Workload(suite="matmul", kernel="noop", rows=1, flops=1, bytes=1)

    def test_fast(timed):
        timed(lambda: None, Reference("nothing", lambda: None), WORK)

    def test_broken(timed):
        timed(lambda: None, Reference("nothing", lambda: None), WORK)
        assert False, "a wrong result"

    def test_skipped(timed):
        pytest.skip("not on this machine")

    def test_waits(timed):
        if os.environ.get("WAIT_FOR_SIGNAL"):
            open("started", "w").close()
            time.sleep(60)
        timed(lambda: None, Reference("nothing", lambda: None), WORK)
"""


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


@pytest.fixture
def suite(pytester):
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(test_inner=INNER)
    return pytester


def saved_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / get_machine_id()).iterdir())


def test_a_run_missing_benchmarks_its_suite_selected_is_marked_partial(suite):
    result = suite.runpytest_inprocess("--benchmark-autosave", "--benchmark-max-time=0.005",
                                       "--benchmark-storage=store", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    (path,) = saved_files(suite.path / "store")  # no temporary file left beside it
    run = runs.load(path)
    assert sorted(b.name for b in run.benchmarks.values()) == ["test_fast", "test_waits"]
    assert run.missing == ("test_inner.py::test_broken",)  # skipped is not missing
    assert run.partial_reason == "they failed or did not run"


def test_a_whole_run_is_not_partial(suite):
    result = suite.runpytest_inprocess("--benchmark-json=out.json", "--benchmark-max-time=0.005",
                                       "-k", "fast or skipped", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert not runs.load(suite.path / "out.json").partial
    assert [p.name for p in suite.path.iterdir() if "partial" in p.name] == []


def default_signals() -> None:
    """In the child: SIGINT handled as Python does by default. A shell's
    background job (`cmd &`) starts with SIGINT ignored, and a child inherits
    that, so the signal would never reach the suite."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.spawns
@pytest.mark.parametrize("signum", [signal.SIGINT])
def test_an_interrupted_suite_saves_a_whole_run_marked_partial(suite, signum):
    """A real SIGINT to a real pytest process, while its third benchmark runs."""
    env = {**os.environ, "WAIT_FOR_SIGNAL": "1", "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--benchmark-autosave", "--benchmark-max-time=0.005",
         "--benchmark-storage=store", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:xdist", "-q"],
        cwd=suite.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=default_signals)
    deadline = time.monotonic() + 60
    while not (suite.path / "started").exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()[0]
        time.sleep(0.05)
    child.send_signal(signum)
    output = child.communicate(timeout=60)[0]
    assert child.returncode == 2, output  # pytest's "interrupted"
    (path,) = saved_files(suite.path / "store")
    run = runs.load(path)
    assert [b.name for b in run.benchmarks.values()] == ["test_fast"]
    assert run.missing == ("test_inner.py::test_broken", "test_inner.py::test_waits")
    assert run.partial_reason == "the session was interrupted"


def test_a_save_that_fails_midway_leaves_no_file_under_the_real_name(suite, monkeypatch):
    """The stock save opens the final name first; ours writes elsewhere and renames."""
    def interrupted(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", interrupted)
    suite.runpytest_inprocess("--benchmark-autosave", "--benchmark-max-time=0.005",
                              "--benchmark-storage=store", "-k", "fast", "-p", "no:cacheprovider")
    assert saved_files(suite.path / "store") == []


@pytest.mark.parametrize("option", ["--benchmark-storage={blocked}/store",
                                    "--benchmark-json={blocked}/run.json"])
def test_unwritable_storage_is_refused_before_anything_is_timed(suite, option):
    blocked = suite.path / "a-file"
    blocked.write_text("a file where a folder should be")
    started = time.perf_counter()
    result = suite.runpytest_inprocess("--benchmark-autosave", option.format(blocked=blocked),
                                       "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --benchmark-*: cannot save runs in {blocked}*; "
                                 "nothing was timed"])
    assert "test_fast" not in result.stdout.str()
    assert time.perf_counter() - started < 5  # the check, not the suite: no benchmark ran


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_storage_is_refused(suite):
    (suite.path / "store").mkdir()
    (suite.path / "store").chmod(0o555)
    result = suite.runpytest_inprocess("--benchmark-autosave", "--benchmark-storage=store",
                                       "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# ---------------------------------------------------------------- reading storage

def store(tmp_path: Path, documents: list[dict | str]) -> Path:
    folder = tmp_path / ".benchmarks" / get_machine_id()
    folder.mkdir(parents=True)
    for number, document in enumerate(documents, 1):
        text = document if isinstance(document, str) else json.dumps(document)
        (folder / f"{number:04d}_abc_2026.json").write_text(text)
    return folder


def small_run(seed: int, **options) -> dict:
    return make_run({"einsum-rows500": 360e-6}, seed=seed, rounds=6, **options)


def test_a_run_truncated_at_any_length_is_skipped_in_storage_and_an_error_when_named(tmp_path):
    whole = json.dumps(small_run(0))
    folder = store(tmp_path, [whole])
    path = next(folder.iterdir())
    warnings = []
    for length in range(len(whole)):
        path.write_text(whole[:length])
        assert storage.usable([path], warnings.append) == [], length
        with pytest.raises(runs.RunError, match=path.name):
            runs.load(path)
    assert len(warnings) == len(whole) and all(path.name in w for w in warnings)
    path.write_text(whole)
    assert len(storage.usable([path], warnings.append)) == 1


def test_report_and_history_skip_broken_and_partial_runs_saying_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    partial = small_run(3, commit_time="2026-11-29T03:00:00+00:00")
    partial[runs.PARTIAL] = {"missing": ["tests/x.py::test_y"],
                             "reason": "the session was interrupted"}
    runs_saved = [small_run(i, commit_time=f"2026-11-29T0{i}:00:00+00:00") for i in range(3)]
    folder = store(tmp_path, [*runs_saved, "", '{"benchmarks": [', partial])
    assert history_main(["--out", str(tmp_path / "history")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: skipping") == 3
    assert "0004_abc_2026.json: not a readable JSON file" in err
    assert "0006_abc_2026.json: a partial run: 1 benchmark(s)" in err
    assert report_main(["--out", str(tmp_path / "reports")]) == 0
    out, err = capsys.readouterr()
    assert "from .benchmarks/" in out and "0003_abc_2026.json" in out  # the newest whole run
    # Named explicitly, a broken run is an error.
    assert report_main([str(folder / "0004_abc_2026.json")]) == 2
    assert "not a readable JSON file" in capsys.readouterr().err


@pytest.mark.spawns
def test_pytest_benchmark_list_skips_broken_runs_with_a_warning(tmp_path):
    folder = store(tmp_path, [small_run(0), ""])
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest_benchmark", "list"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "0001_abc_2026.json" in done.stdout and "0002_abc_2026.json" not in done.stdout
    assert f"warning: skipping {folder / '0002_abc_2026.json'}: not a readable JSON" in done.stderr


def test_the_report_replaces_markdown_and_plot_together_or_not_at_all(tmp_path, monkeypatch):
    import bench.report.__main__ as report

    path = tmp_path / "run.json"
    path.write_text(json.dumps(small_run(0)))
    out = tmp_path / "reports"
    out.mkdir()
    (out / "ladder.md").write_text("the previous run's report")
    (out / "ladder.png").write_bytes(b"the previous run's plot")

    def plot_interrupted(run, png):
        png.write_bytes(b"half a plot")
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "plot", plot_interrupted)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(path, out)
    assert (out / "ladder.md").read_text() == "the previous run's report"
    assert (out / "ladder.png").read_bytes() == b"the previous run's plot"
    assert sorted(p.name for p in out.iterdir()) == ["ladder.md", "ladder.png"]
    monkeypatch.undo()
    report.write_report(path, out)
    assert "einsum" in (out / "ladder.md").read_text()
    assert (out / "ladder.png").read_bytes().startswith(b"\x89PNG")


def test_the_gate_warns_of_a_partial_run_named_to_it(tmp_path, capsys):
    from bench.gate.__main__ import main as gate_main
    from synthetic_runs import block_folders

    base, cand = block_folders(tmp_path, {"einsum-rows500": 360e-6}, 3)
    document = json.loads((base / "block-002.json").read_text())
    document[runs.PARTIAL] = {"missing": ["tests/x.py::test_y"],
                              "reason": "the session was interrupted"}
    (base / "block-002.json").write_text(json.dumps(document))
    gate_main([str(base), str(cand)])
    assert "block-002.json: a partial run: 1 benchmark(s) its suite selected are missing" \
        in capsys.readouterr().err
