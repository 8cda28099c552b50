"""The main job: the benchmark suite on MNIST, saved, then the ladder report.

    python -m bench run [--gate-ready] [extra pytest args...]

Runs tests/benchmarks timed, saves the run with its raw samples under
.benchmarks/ (pytest-benchmark's --benchmark-autosave; --benchmark-storage
chooses another folder), then writes reports/ladder.md and reports/ladder.png
from that run, named by path. --gate-ready runs with the regression gate's
settings (bench.suite.command) instead of torch's default threads and the
wall clock. Either way each benchmark's rounds are timed in MAIN_PASSES
passes spread over the run (bench.suite.passes; --bench-passes=1 times
each in one burst).

Exit status: 0 saved and reported; 2 nothing could run or nothing was saved
(storage not writable, no MNIST, every benchmark skipped), with the reason;
pytest's own status when benchmarks failed; 128 + the signal's number when
interrupted (SIGINT and SIGTERM are passed on to the pytest process).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import cli, storage
from bench.exitcodes import Exit
from bench.interrupts import SIGNALS
from bench.runs import RunError
from bench.suite import command

# The report compares medians of benchmarks timed at different moments of one
# run. On a VM the host's spells (a shared core, a neighbour's memory traffic)
# last seconds, and a benchmark timed in one burst can spend all of it in
# one: on round 3's Zen 4 machine (stop 39) numba_tuned's 5-row product read
# 10.3 us against the builtin's 9.34 in a one-pass run (its rounds 5.8 us
# outside the spell), and 5.92 against 9.42 with passes. Spread over the
# run, each median holds several moments, and a spell falls on every
# benchmark alike, as in the gate's processes.
MAIN_PASSES = command.GATE_READY_PASSES


def ensure_mnist():
    """MNIST's folder: found locally, else fetched (and verified) into the user cache."""
    from bench.suite.mnist import local_mnist_dir, mnist_dir_problem
    from data import MnistDataError, fetch

    problem = mnist_dir_problem()
    if problem:
        raise MnistDataError(problem)
    return local_mnist_dir() or fetch()[0]


def option_value(args: list[str], name: str) -> str | None:
    """The last value given to a pytest option, as --name=value or --name value."""
    value = None
    for index, arg in enumerate(args):
        if arg.startswith(name + "="):
            value = arg.partition("=")[2]
        elif arg == name and index + 1 < len(args):
            value = args[index + 1]
    return value


def run_forwarding_signals(cmd: list[str], env: dict[str, str]) -> tuple[int, int | None]:
    """Run cmd, passing SIGINT and SIGTERM on to it; (its exit status, the first
    signal received or None). The child has its own process group, so a Ctrl-C
    at the terminal reaches it once, through here."""
    received: list[int] = []
    pending: list[int] = []  # received before the child was known
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        received.append(signum)
        if child is None:
            pending.append(signum)
        else:
            child.send_signal(signum)

    # The handlers before the child: a signal between its start and theirs
    # stopped this process by default and left the child running, holding
    # this process's output open.
    previous = {s: signal.signal(s, forward) for s in SIGNALS}
    try:
        child = subprocess.Popen(cmd, env=env, start_new_session=True)
        for signum in pending:  # handlers run between bytecodes: none is sent twice
            child.send_signal(signum)
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code, (received[0] if received else None)


def nothing_saved(record: dict) -> str:
    if record["selected"] and record["skipped"] >= record["selected"]:
        reasons = "; ".join(record["skip_reasons"]) or "no reason given"
        return f"every benchmark ({record['skipped']}) was skipped: {reasons}"
    return (f"{record['finished']} of {record['selected']} selected benchmark(s) finished "
            f"and {record['skipped']} were skipped, but no run was saved")


def main(argv: list[str]) -> int:
    gate_ready = "--gate-ready" in argv
    extra = [arg for arg in argv if arg != "--gate-ready"]
    if any(arg in ("-h", "--help") for arg in extra):
        print(__doc__)
        return Exit.OK
    from pytest_benchmark.utils import get_machine_id

    from bench.suite.saving import RECORD_ENV, run_folder, writable_problem

    try:
        folder = storage.storage_path(option_value(extra, "--benchmark-storage")
                                      or storage.DEFAULT_STORAGE)
    except RunError as exc:
        print(f"error: --benchmark-storage: {exc}", file=sys.stderr)
        return Exit.USAGE
    problem = writable_problem(run_folder(folder, get_machine_id()), "--benchmark-storage")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return Exit.USAGE
    from data import MnistDataError  # loads torch: after the quick checks

    try:
        mnist_dir = ensure_mnist()
    except MnistDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    print(f"MNIST from {mnist_dir}")
    env = command.environment(gate_ready=gate_ready, mnist_dir=mnist_dir)
    args = ["--benchmark-autosave", "--benchmark-save-data", f"--bench-passes={MAIN_PASSES}",
            *extra]  # the caller's own options after ours: theirs win
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        record_path = Path(scratch) / "record.json"
        env[RECORD_ENV] = str(record_path)
        code, signum = run_forwarding_signals(
            command.pytest_command(*args, gate_ready=gate_ready), env)
        record = json.loads(record_path.read_text()) if record_path.is_file() else None
    print(f"benchmark suite took {time.perf_counter() - started:.0f} s")
    if signum is not None:
        name = signal.Signals(signum).name
        print(f"interrupted ({name}): passed on to the benchmark process; no report written",
              file=sys.stderr)
        return 128 + signum
    if code != 0:
        # A failing benchmark is a wrong kernel or a broken run, not a regression.
        print(f"benchmarks failed (pytest exit {code}): no report written", file=sys.stderr)
        return Exit.USAGE
    if record is None or not record["saved"]:
        reason = nothing_saved(record) if record else "the suite did not say what it saved"
        print(f"error: nothing saved, no report written: {reason}", file=sys.stderr)
        return Exit.USAGE
    from bench.report.__main__ import main as report

    return report([record["saved"][-1]])


if __name__ == "__main__":
    cli.exit_with(main, sys.argv[1:], command="python -m bench run", extra="test")
