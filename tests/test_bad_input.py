"""Exit codes mean what they say: bad input is exit 2 with one line, never 1 (a
regression); the same run given twice is refused; bad settings of the suite
(MATMUL_BENCH_SLOWDOWN, MNIST_DIR) are one clear error at session start; too
few processes for an MDE is said plainly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import run_suite
from bench.gate.__main__ import main as gate_main
from synthetic_runs import block_folders, make_run

pytest_plugins = ["pytester"]

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6}


def sides(tmp_path: Path, blocks: int) -> tuple[Path, Path]:
    return block_folders(tmp_path, SUITE, blocks)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_the_same_run_given_twice_is_refused_however_it_is_spelled(tmp_path, monkeypatch, capsys):
    base, cand = sides(tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    first = base / "block-001.json"
    spelled_twice = f"{first},base/../base/block-001.json,{base / 'block-002.json'}"
    assert gate_main([spelled_twice, str(cand)]) == 2
    assert "the same run is given twice" in one_line_error(capsys)
    copy = tmp_path / "copy.json"
    copy.write_text(first.read_text())  # a copy is the same process too
    assert gate_main([f"{base}", f"{copy},{cand / 'block-001.json'}"]) == 2
    assert "copy.json" in one_line_error(capsys)


@pytest.mark.parametrize("machine_info, message", [
    ({"cpu": "AMD EPYC"}, "machine_info.cpu and .gpu must be objects"),
    ("a string", "machine_info is not an object"),
])
def test_malformed_machine_info_is_bad_input(tmp_path, capsys, machine_info, message):
    base, cand = sides(tmp_path, 3)
    document = json.loads((base / "block-001.json").read_text())
    document["machine_info"] = machine_info
    (base / "block-001.json").write_text(json.dumps(document))
    assert gate_main([str(base), str(cand)]) == 2
    assert message in one_line_error(capsys)


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_an_unwritable_output_is_bad_input(tmp_path, capsys, option):
    base, cand = sides(tmp_path, 3)
    assert gate_main([str(base), str(cand), option, str(tmp_path / "nonexistent" / "x")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_two_blocks_say_plainly_that_they_are_too_few(tmp_path, capsys):
    base, cand = sides(tmp_path, 2)
    gate_main([str(base), str(cand)])
    out = capsys.readouterr().out
    assert "too few processes to gate: 2 a side catch only slowdowns over +100 %" in out
    assert "e+" not in out and not any(len(word) > 12 and word.strip("+%,").isdigit()
                                       for word in out.split())


# ---------------------------------------------------------------- the suite's settings

BENCHMARK = """
    from bench.runs import Workload
    from bench.suite.cases import Reference

    def test_noop(timed):
        timed(lambda: None, Reference("nothing", lambda: None),
              Workload(suite="matmul", kernel="noop", rows=1, flops=1, bytes=1))

    def test_needs_mnist(mnist_dir):
        pass
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(test_inner=BENCHMARK)
    return pytester


def test_an_unknown_slowdown_kernel_is_refused_naming_the_known_ones(suite, monkeypatch):
    monkeypatch.setenv("MATMUL_BENCH_SLOWDOWN", "einsumm=0.10")
    result = suite.runpytest_inprocess("--benchmark-enable", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: MATMUL_BENCH_SLOWDOWN: unknown kernel(s) 'einsumm'; "
                                 "known: broadcast, builtin, *einsum*"])


@pytest.mark.parametrize("ci", [False, True])
def test_an_empty_mnist_dir_is_one_clear_error_at_session_start(suite, monkeypatch, tmp_path, ci):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MNIST_DIR", str(empty))
    if ci:
        monkeypatch.setenv("CI", "true")
    result = suite.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    problem = f"MNIST_DIR={empty} lacks train-images-idx3-ubyte.gz*"
    if ci:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: {problem}"])
    else:
        result.assert_outcomes(passed=1, skipped=1, warnings=1)
        result.stdout.fnmatch_lines([f"SKIPPED * {problem}"])


def test_bench_run_refuses_a_wrong_mnist_dir_and_unwritable_storage_at_once(tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    assert run_suite.main([f"--benchmark-storage={tmp_path}/runs"]) == 2
    assert "MNIST_DIR=" in one_line_error(capsys)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert run_suite.main([f"--benchmark-storage={blocked}/runs"]) == 2
    assert "cannot save runs in" in one_line_error(capsys)


def record_child(record: dict | None, code: int = 0):
    def child(cmd, env):
        if record is not None:
            Path(env["MATMUL_BENCH_RECORD"]).write_text(json.dumps(record))
        return code, None
    return child


def test_bench_run_that_saved_nothing_writes_no_report_and_says_why(tmp_path, monkeypatch, capsys,
                                                                    mnist_dir):
    monkeypatch.chdir(tmp_path)
    record = {"saved": [], "exported": [], "selected": 54, "finished": 0, "skipped": 54,
              "skip_reasons": ["--bench-device cuda: CUDA is not available on this machine"],
              "interrupted": False}
    monkeypatch.setattr(run_suite, "run_forwarding_signals", record_child(record))
    assert run_suite.main(["--bench-device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert ("nothing saved, no report written: every benchmark (54) was skipped: "
            "--bench-device cuda: CUDA is not available") in err
    assert not (tmp_path / "reports").exists()


def test_bench_run_reports_the_run_it_saved_by_path(tmp_path, monkeypatch, capsys, mnist_dir):
    monkeypatch.chdir(tmp_path)
    newer = tmp_path / ".benchmarks" / "elsewhere" / "0009_newer.json"  # not the run just made
    mine = tmp_path / "alt" / "0001_mine.json"
    for path, seed in ((newer, 1), (mine, 2)):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(make_run(SUITE, seed=seed)))
    record = {"saved": [str(mine)], "exported": [], "selected": 2, "finished": 2, "skipped": 0,
              "skip_reasons": [], "interrupted": False}
    monkeypatch.setattr(run_suite, "run_forwarding_signals", record_child(record))
    assert run_suite.main(["--benchmark-storage=alt"]) == 0
    assert f"from {mine}" in capsys.readouterr().out


def test_bench_run_times_each_benchmark_in_passes_unless_told_otherwise(tmp_path, monkeypatch,
                                                                         mnist_dir):
    monkeypatch.chdir(tmp_path)
    commands = []

    def child(cmd, env):
        commands.append(cmd)
        return 2, None  # "benchmarks failed": nothing to report, nothing more to mock

    monkeypatch.setattr(run_suite, "run_forwarding_signals", child)
    run_suite.main([])
    run_suite.main(["--bench-passes=1"])
    passes = [[a for a in cmd if a.startswith("--bench-passes=")] for cmd in commands]
    assert passes[0] == [f"--bench-passes={run_suite.MAIN_PASSES}"] and run_suite.MAIN_PASSES > 1
    assert passes[1][-1] == "--bench-passes=1"  # the caller's, after ours: it wins


CHILD = """
import signal, sys, time

def got(signum, frame):
    open("child-got", "w").write(signal.Signals(signum).name)
    sys.exit(0)

signal.signal(signal.SIGTERM, got)
signal.signal(signal.SIGINT, got)
open("child-ready", "w").close()
time.sleep(60)
"""

FORWARDER = """
import sys
from bench.run_suite import run_forwarding_signals

code, signum = run_forwarding_signals([sys.executable, "child.py"], None)
print(code, signum)
"""


@pytest.mark.spawns
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_bench_run_passes_signals_to_its_pytest_child(tmp_path, signum):
    """Real signals to a real process running a real child: the child gets it."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "child.py").write_text(CHILD)
    parent = subprocess.Popen([sys.executable, "-c", FORWARDER], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(root)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "child-ready").exists():
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()
        time.sleep(0.02)
    parent.send_signal(signum)
    out, err = parent.communicate(timeout=30)
    assert (tmp_path / "child-got").read_text() == signal.Signals(signum).name
    assert out.split() == ["0", str(int(signum))], err


# A signal at the worst moment: the child started, its handle not yet returned.
FORWARDER_RACE = """
import os, signal, subprocess, sys
from bench import run_suite

started = subprocess.Popen

def start_then_signal(*args, **kwargs):
    child = started(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return child

subprocess.Popen = start_then_signal
code, signum = run_suite.run_forwarding_signals(
    ["sh", "-c", "exec >/dev/null 2>&1; exec sleep 30"], None)
print(code, signum)
"""


@pytest.mark.spawns
def test_a_signal_while_the_child_starts_reaches_the_child():
    """Before, the handlers came after the child's start: a signal in between
    stopped the forwarder by default, printing nothing, and left the child
    running. Now the child gets it and the forwarder reports it."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", FORWARDER_RACE],
                          env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == [str(-signal.SIGTERM), str(int(signal.SIGTERM))], done.stderr
