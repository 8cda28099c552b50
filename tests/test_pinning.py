"""bench.suite.pinning: a gate-ready run bound to one CPU, every thread of it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.suite import pinning

ROOT = Path(__file__).resolve().parents[1]
needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"),
                                    reason="no CPU affinity API on this platform")


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("none", "none"), ("0", 0), ("7", 7)])
def test_parse_accepts_auto_none_and_cpu_numbers(value, expected):
    assert pinning.parse(value) == expected


@pytest.mark.parametrize("value", ["-1", "first", "1.5", ""])
def test_parse_names_the_bad_value(value):
    with pytest.raises(ValueError, match="--bench-pin-cpu") as error:
        pinning.parse(value)
    assert repr(value) in str(error.value) or value in str(error.value)


@needs_affinity
def test_current_cpu_is_one_this_process_may_run_on():
    assert pinning.current_cpu() in os.sched_getaffinity(0)


def child(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_affinity
def test_pin_binds_threads_started_before_and_after_it():
    # In a child: pinning the test process would bind the tests that follow.
    out = child(
        "import os, threading\n"
        "from bench.suite import pinning\n"
        "stop = threading.Event(); ready = threading.Event()\n"
        "t = threading.Thread(target=lambda: (ready.set(), stop.wait())); t.start(); ready.wait()\n"
        "cpu = pinning.pin('auto')\n"
        "later = []\n"
        "u = threading.Thread(target=lambda: later.append(os.sched_getaffinity(0))); u.start(); u.join()\n"
        "print(cpu, pinning.pinned_cpu() == cpu, sorted(os.sched_getaffinity(0)),"
        " sorted(os.sched_getaffinity(t.native_id)), sorted(later[0]))\n"
        "stop.set(); t.join()\n")
    cpu, *sets = out.split(" ", 1)
    assert sets[0] == f"True [{cpu}] [{cpu}] [{cpu}]"


@needs_affinity
def test_pin_none_leaves_placement_alone():
    out = child("import os\nfrom bench.suite import pinning\n"
                "before = os.sched_getaffinity(0)\n"
                "print(pinning.pin('none'), os.sched_getaffinity(0) == before)")
    assert out == "None True"


@needs_affinity
def test_pin_to_a_cpu_outside_the_allowed_set_names_them():
    unusable = max(os.sched_getaffinity(0)) + 1
    with pytest.raises(ValueError, match=rf"--bench-pin-cpu {unusable}: .*CPUs \["):
        pinning.pin(unusable)


@pytest.mark.spawns
def test_the_plugin_refuses_a_bad_choice_in_one_line():
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "--bench-pin-cpu=first",
                           "tests/test_table.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--bench-pin-cpu: expected auto, none or a CPU number, got 'first'" in done.stderr
